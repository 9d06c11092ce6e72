/**
 * TLS for the REST API and the agents' WebSocket, on real sockets with a real agent process:
 * a CA and a server certificate made with openssl, the aggregator serving HTTPS and wss://,
 * an agent that trusts the CA (NODE_EXTRA_CA_CERTS) connecting and one that does not refused.
 * And no secret (the token, a wrong token tried against it, the TLS key) in any log line of
 * either process, even at debug level.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import WebSocket from 'ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildAggregator, type Aggregator } from '../../aggregator/app.js';
import { loadTls } from '../../aggregator/tls.js';
import { loadAggregatorConfig } from '../../aggregator/config.js';
import { agentFlags, netmatrixCommand } from '../../lab/agents.js';
import { describeWith, waitFor } from '../helpers/requirements.js';

const TOKEN = 'tls-test-token-0123456789abcdef';
const WRONG = 'wrong-token-fedcba9876543210';

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

/** A CA, and a certificate for 127.0.0.1 signed by it. */
async function makeCertificates(dir: string): Promise<void> {
  await writeFile(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=netmatrix test CA',
  ]);
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'tls.key', '-out', 'tls.csr', '-subj', '/CN=netmatrix-aggregator']);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    'tls.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'tls.crt',
    '-days',
    '1',
    '-extfile',
    'san.ext',
  ]);
}

describeWith({ binaries: ['openssl', 'iperf3'] }, 'TLS and secrets', () => {
  let dir: string;
  let agg: Aggregator;
  let port: number;
  let ca: Buffer;
  const aggregatorLogs: string[] = [];
  const agentOutput: string[] = [];
  const children: ChildProcess[] = [];

  const startAgent = (nodeName: string, trustCa: boolean): ChildProcess => {
    const spec = { nodeName, mode: 'host' as const, podIp: '127.0.0.1', hostIp: '127.0.0.1', iperf3Port: 5290 };
    const [cmd, ...args] = [...netmatrixCommand(), ...agentFlags(spec)];
    const child = spawn(cmd as string, args, {
      env: {
        ...process.env,
        NETMATRIX_AGGREGATOR_URL: `wss://127.0.0.1:${port}/ws/agent`,
        NETMATRIX_TOKEN: TOKEN,
        NETMATRIX_LOG_LEVEL: 'debug',
        NETMATRIX_ALLOWED_TARGET_CIDRS: '127.0.0.0/8',
        NODE_EXTRA_CA_CERTS: trustCa ? join(dir, 'ca.crt') : '',
      },
    });
    child.stdout?.on('data', (b: Buffer) => agentOutput.push(b.toString()));
    child.stderr?.on('data', (b: Buffer) => agentOutput.push(b.toString()));
    children.push(child);
    return child;
  };

  const get = (path: string, token?: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, ca, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'netmatrix-tls-'));
    await makeCertificates(dir);
    ca = await readFile(join(dir, 'ca.crt'));
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        aggregatorLogs.push(chunk.toString());
        done();
      },
    });
    const config = loadAggregatorConfig(
      {
        NETMATRIX_TOKEN: TOKEN,
        NETMATRIX_LISTEN_HOST: '127.0.0.1',
        NETMATRIX_LISTEN_PORT: '0',
        NETMATRIX_CONTINUOUS: 'false',
        NETMATRIX_TLS_CERT_FILE: join(dir, 'tls.crt'),
        NETMATRIX_TLS_KEY_FILE: join(dir, 'tls.key'),
        NETMATRIX_TLS_RELOAD_SECONDS: '1',
      },
      [],
    );
    agg = await buildAggregator({ config, log: pino({ level: 'debug' }, sink) });
    await agg.listen();
    port = (agg.app.server.address() as AddressInfo).port;
  }, 30_000);

  afterAll(async () => {
    for (const c of children) c.kill('SIGTERM');
    await agg?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('serves the REST API over HTTPS with the configured certificate, and nothing over plain HTTP', async () => {
    expect((await get('/healthz')).status).toBe(200);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });

  it('takes an agent over wss:// when it trusts the CA, and refuses one that does not', async () => {
    startAgent('trusting', true);
    const distrusting = startAgent('distrusting', false);
    await waitFor(() => agg.agents.nodes().includes('trusting'), 20_000, 'the trusting agent to connect');
    // It cannot verify the aggregator's certificate: it logs why and keeps retrying.
    await waitFor(() => agentOutput.join('').includes('unable to verify the first certificate'), 20_000, "the other agent's TLS error");
    expect(agg.agents.nodes()).not.toContain('distrusting');
    expect(distrusting.exitCode).toBeNull(); // it keeps retrying with backoff, it does not crash
  }, 60_000);

  it('refuses a wrong token over wss:// with 401', async () => {
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`wss://127.0.0.1:${port}/ws/agent`, { ca, headers: { authorization: `Bearer ${WRONG}` } });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => undefined);
    });
    expect(status).toBe(401);
  });

  it('writes no secret to any log line: not the token, not a wrong token tried, not the TLS key', async () => {
    const key = (await readFile(join(dir, 'tls.key'), 'utf8')).split('\n')[1] as string;
    const logs = aggregatorLogs.join('') + agentOutput.join('');
    expect(logs.length).toBeGreaterThan(0);
    expect(logs).toContain('(redacted)');
    for (const secret of [TOKEN, WRONG, key]) expect(logs).not.toContain(secret);
  });

  it('says in one line what is wrong with a half or unreadable TLS configuration', async () => {
    await expect(loadTls({ tlsCertFile: join(dir, 'tls.crt'), tlsKeyFile: undefined })).rejects.toThrow(
      'NETMATRIX_TLS_CERT_FILE and NETMATRIX_TLS_KEY_FILE must be set together',
    );
    await expect(loadTls({ tlsCertFile: '/nonexistent/tls.crt', tlsKeyFile: join(dir, 'tls.key') })).rejects.toThrow(
      'cannot read NETMATRIX_TLS_CERT_FILE /nonexistent/tls.crt: ENOENT',
    );
  });

  it('serves a rotated certificate to new connections without a restart, and keeps the running one while the new pair is broken', async () => {
    /** The SHA-256 fingerprint of the certificate a new TLS connection is given. */
    const served = () =>
      new Promise<string>((resolve, reject) => {
        const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
          resolve(s.getPeerCertificate().fingerprint256);
          s.end();
        });
        s.on('error', reject);
      });
    const fingerprint = async (file: string) => new X509Certificate(await readFile(file)).fingerprint256;
    const before = await served();
    expect(before).toBe(await fingerprint(join(dir, 'tls.crt')));

    const next = join(dir, 'next');
    await mkdir(next);
    await makeCertificates(next);
    // Mid-rotation: the new certificate is there but the key is still the old one.
    await writeFile(join(dir, 'tls.crt'), await readFile(join(next, 'tls.crt')));
    await waitFor(() => aggregatorLogs.join('').includes('tls certificate not reloaded'), 10_000, 'the mismatched pair to be refused');
    expect(await served()).toBe(before);

    await writeFile(join(dir, 'tls.key'), await readFile(join(next, 'tls.key')));
    const after = await fingerprint(join(next, 'tls.crt'));
    await waitFor(async () => (await served()) === after, 10_000, 'the new certificate to be served');
    expect(aggregatorLogs.join('')).toContain('tls certificate reloaded');
    // The agent connected over the old certificate is not dropped by the rotation.
    expect(agg.agents.nodes()).toContain('trusting');
    const newKey = (await readFile(join(next, 'tls.key'), 'utf8')).split('\n')[1] as string;
    expect(aggregatorLogs.join('')).not.toContain(newKey);
  }, 30_000);
});
