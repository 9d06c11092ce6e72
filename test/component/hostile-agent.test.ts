/**
 * A hostile agent against a real aggregator on a real port: no token, wrong tokens, a token
 * brute force (429 after AUTH_FAILURE_LIMIT bad tokens from one address, without comparing),
 * malformed, oversized, deeply nested and out-of-order frames, results for tests it was not
 * given, and a hello that impersonates another address. Every refusal is counted, and a
 * well-behaved agent connected at the same time stays listed, open and answering.
 *
 * The impersonation check exempts loopback peers, so the aggregator here listens on one of
 * this machine's own non-loopback addresses (preferring one inside 198.18.0.0/15) and the
 * clients choose their source address: 127.0.0.1 (a loopback peer) or that address. A
 * connection to the machine's own address never leaves it (the kernel's local table routes
 * it over lo).
 */
import os from 'node:os';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  AGENT_SOCKET_PATH,
  AUTH_FAILURE_LIMIT,
  AUTH_FAILURE_WINDOW_MS,
  impersonation,
  remoteIpv4,
  WindowLimiter,
} from '../../aggregator/agent-socket.js';
import { buildAggregator, type Aggregator } from '../../aggregator/app.js';
import { loadAggregatorConfig } from '../../aggregator/config.js';
import { labAgentSpecs, loopbackAgentSpecs } from '../../lab/agents.js';
import { planLab } from '../../lab/plan.js';
import { parseCidr } from '../../shared/limits.js';
import {
  CloseCode,
  MAX_FRAME_BYTES,
  parseAggregatorMessage,
  PROTOCOL_VERSION,
  type AgentIdentity,
  type AggregatorMessage,
} from '../../shared/protocol.js';
import { testIdentity, testResult } from '../helpers/identity.js';
import { waitFor } from '../helpers/requirements.js';

const TOKEN = 'hostile-test-token';
const LOOPBACK = '127.0.0.1';

/** One of this machine's own IPv4 addresses that is not loopback, preferring the benchmarking range. */
function localAddress(): string | undefined {
  const lab = parseCidr('198.18.0.0/15');
  const all = Object.values(os.networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((a) => a.family === 'IPv4' && !a.internal)
    .map((a) => a.address);
  return all.find(lab) ?? all[0];
}
const LOCAL = localAddress();

interface Closed {
  code: number;
  reason: string;
}

interface Client {
  ws: WebSocket;
  frames: AggregatorMessage[];
  opened: Promise<void>;
  closed: Promise<Closed>;
  /** The HTTP status and Retry-After header when the upgrade is refused. */
  refused: Promise<{ status: number; retryAfter: string | undefined }>;
  send(frame: unknown): void;
}

interface Aggregated {
  agg: Aggregator;
  url: string;
  clients: Client[];
}

async function start(host: string): Promise<Aggregated> {
  const config = loadAggregatorConfig(
    {
      NETMATRIX_TOKEN: TOKEN,
      NETMATRIX_CONTINUOUS: 'false',
      NETMATRIX_LISTEN_HOST: host,
      NETMATRIX_LISTEN_PORT: '0',
      // Host agents too (the default checks pod agents only): both modes are attacked below.
      NETMATRIX_AGENT_ADDRESS_CHECK: 'all',
    },
    [],
  );
  const agg = await buildAggregator({ config, log: pino({ level: 'silent' }) });
  const httpUrl = await agg.listen();
  return { agg, url: httpUrl, clients: [] };
}

function connect(a: Aggregated, from: string = LOOPBACK, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }): Client {
  const ws = new WebSocket(`${a.url.replace(/^http/, 'ws')}${AGENT_SOCKET_PATH}`, { headers, localAddress: from });
  const frames: AggregatorMessage[] = [];
  ws.on('message', (data: WebSocket.RawData) => frames.push(parseAggregatorMessage(data as Buffer)));
  ws.on('error', () => undefined);
  const c: Client = {
    ws,
    frames,
    opened: new Promise((resolve) => ws.once('open', () => resolve())),
    closed: new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }))),
    refused: new Promise((resolve) =>
      ws.once('unexpected-response', (req, res) => {
        const retryAfter = res.headers['retry-after'];
        res.resume();
        req.destroy();
        resolve({ status: res.statusCode ?? 0, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter });
      }),
    ),
    send: (frame) => ws.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame)),
  };
  a.clients.push(c);
  return c;
}

const hello = (agent: AgentIdentity) => ({ type: 'hello', protocolVersion: PROTOCOL_VERSION, agent });

/** Connect from `from`, say hello as `agent` and wait for the welcome. */
async function welcomed(a: Aggregated, agent: AgentIdentity, from: string = LOOPBACK): Promise<Client> {
  const c = connect(a, from);
  await c.opened;
  c.send(hello(agent));
  await waitFor(() => c.frames.find((f) => f.type === 'welcome'), 5000, `welcome for ${agent.nodeName}`, 10);
  return c;
}

/** The good agent is unaffected: still open, still listed, and a result it sends is acknowledged. */
async function unaffected(a: Aggregated, c: Client, node: string): Promise<void> {
  expect(c.ws.readyState, `${node}'s socket was closed`).toBe(WebSocket.OPEN);
  expect((await listed(a)).map((x) => x.nodeName)).toContain(node);
  const id = `still-here-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  c.send(testResult(id));
  await waitFor(() => c.frames.some((f) => f.type === 'ack' && f.resultIds.includes(id)), 5000, `ack of ${id}`, 10);
}

async function counter(a: Aggregated, name: string, labels: Record<string, string>): Promise<number> {
  const metric = a.agg.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  return values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))?.value ?? 0;
}
const protocolErrors = (a: Aggregated, reason: string) => counter(a, 'netmatrix_protocol_errors_total', { reason });

async function listed(a: Aggregated): Promise<{ nodeName: string; mode: string }[]> {
  const res = await fetch(`${a.url}/api/agents`);
  expect(res.status).toBe(200);
  return (await res.json()) as { nodeName: string; mode: string }[];
}

async function cleanup(a: Aggregated): Promise<void> {
  for (const c of a.clients.splice(0)) c.ws.terminate();
  await waitFor(() => a.agg.agents.all().length === 0, 5000, 'every agent to leave the registry', 10);
}

describe.skipIf(LOCAL === undefined)(`a hostile agent (aggregator on ${LOCAL ?? 'no non-loopback address: skipped'})`, () => {
  const local = LOCAL as string;
  /** The good agent: a host-network agent whose hostIp is the address it connects from. */
  const goodIdentity = testIdentity({ nodeName: 'node-good', mode: 'host', hostIp: local, podIp: local });

  describe('tokens', () => {
    let a: Aggregated;
    beforeAll(async () => {
      a = await start(local);
    });
    afterEach(async () => cleanup(a));
    afterAll(async () => a?.agg.close());

    it('refuses no token and a wrong token with 401 before the upgrade, counted, and lists nobody', async () => {
      const good = await welcomed(a, goodIdentity, local);
      const before = await protocolErrors(a, 'unauthorized');
      expect((await connect(a, LOOPBACK, {}).refused).status).toBe(401);
      expect((await connect(a, LOOPBACK, { authorization: 'Bearer wrong' }).refused).status).toBe(401);
      expect((await connect(a, LOOPBACK, { authorization: `Bearer ${TOKEN}x` }).refused).status).toBe(401);
      expect((await connect(a, LOOPBACK, { authorization: TOKEN }).refused).status).toBe(401);
      expect(await protocolErrors(a, 'unauthorized')).toBe(before + 4);
      expect((await listed(a)).map((x) => x.nodeName)).toEqual(['node-good']);
      await unaffected(a, good, 'node-good');
    });
  });

  describe('token brute force', () => {
    let a: Aggregated;
    beforeAll(async () => {
      a = await start(local);
    });
    afterEach(async () => cleanup(a));
    afterAll(async () => a?.agg.close());

    it(`answers 429 after ${AUTH_FAILURE_LIMIT} bad tokens from one address, even to the right token, and only for that address`, async () => {
      // Connected from the attacker's address before the attack: an open connection is not cut.
      const before = await welcomed(a, testIdentity({ nodeName: 'node-before', mode: 'pod' }), LOOPBACK);
      const good = await welcomed(a, goodIdentity, local);
      const unauthorized = await protocolErrors(a, 'unauthorized');
      const limited = await protocolErrors(a, 'rate-limited');

      for (let i = 0; i < AUTH_FAILURE_LIMIT; i++) {
        expect((await connect(a, LOOPBACK, { authorization: `Bearer guess-${i}` }).refused).status).toBe(401);
      }
      const blocked = await connect(a, LOOPBACK, { authorization: 'Bearer guess-next' }).refused;
      expect(blocked.status).toBe(429);
      expect(Number(blocked.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(blocked.retryAfter)).toBeLessThanOrEqual(AUTH_FAILURE_WINDOW_MS / 1000);
      // Without even comparing: the right token from that address is refused the same way.
      expect((await connect(a, LOOPBACK).refused).status).toBe(429);
      expect((await connect(a, LOOPBACK, {}).refused).status).toBe(429);

      expect(await protocolErrors(a, 'unauthorized')).toBe(unauthorized + AUTH_FAILURE_LIMIT);
      expect(await protocolErrors(a, 'rate-limited')).toBe(limited + 3);

      // Another address is not limited, and the connected agents carry on.
      const other = await welcomed(a, testIdentity({ nodeName: 'node-other', mode: 'pod', podIp: local }), local);
      await unaffected(a, good, 'node-good');
      await unaffected(a, before, 'node-before');
      await unaffected(a, other, 'node-other');
    });
  });

  describe('frames', () => {
    let a: Aggregated;
    let good: Client;
    beforeAll(async () => {
      a = await start(local);
    });
    afterEach(async () => cleanup(a));
    afterAll(async () => a?.agg.close());

    const nested = (depth: number) => `{"type":"ready","testId":"t1","x":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    const cases: Array<{ name: string; reason: string; helloFirst: boolean; frame: () => unknown }> = [
      { name: 'a frame that is not JSON', reason: 'malformed', helloFirst: true, frame: () => '{"type":"ready",' },
      { name: 'a null frame', reason: 'malformed', helloFirst: true, frame: () => 'null' },
      { name: 'a frame over MAX_FRAME_BYTES', reason: 'malformed', helloFirst: true, frame: () => `"${'x'.repeat(MAX_FRAME_BYTES)}"` },
      { name: 'deeply nested JSON (100 000 levels)', reason: 'malformed', helloFirst: true, frame: () => nested(100_000) },
      {
        name: 'a deeply nested hello',
        reason: 'malformed',
        helloFirst: false,
        frame: () => JSON.stringify(hello(goodIdentity)).replace(/}$/, `,"x":${'['.repeat(50_000)}${']'.repeat(50_000)}}`),
      },
      { name: 'a result before hello', reason: 'out-of-order', helloFirst: false, frame: () => testResult('r-early') },
      { name: 'a ready before hello', reason: 'out-of-order', helloFirst: false, frame: () => ({ type: 'ready', testId: 't1' }) },
      {
        name: 'a hello whose podIp is another pod (mode pod)',
        reason: 'impersonation',
        helloFirst: false,
        frame: () => hello(testIdentity({ nodeName: 'node-x', mode: 'pod', podIp: '198.19.9.2', hostIp: local })),
      },
      {
        name: 'a hello whose hostIp is another node (mode host)',
        reason: 'impersonation',
        helloFirst: false,
        frame: () => hello(testIdentity({ nodeName: 'node-x', mode: 'host', podIp: local, hostIp: '198.18.0.99' })),
      },
      {
        name: "a hello claiming the good agent's node and mode from another address",
        reason: 'impersonation',
        helloFirst: false,
        frame: () => hello({ ...goodIdentity, hostIp: '198.18.0.77' }),
      },
    ];

    it.each(cases)('$name -> close 1008, counted as $reason, the good agent unaffected', async ({ reason, helloFirst, frame }) => {
      good = await welcomed(a, goodIdentity, local);
      const before = await protocolErrors(a, reason);
      const bad = connect(a, local);
      await bad.opened;
      if (helloFirst) {
        bad.send(hello(testIdentity({ nodeName: 'node-bad', mode: 'pod', podIp: local })));
        await waitFor(() => bad.frames.some((f) => f.type === 'welcome'), 5000, 'welcome of the bad agent', 10);
      }
      bad.send(frame());
      const closed = await bad.closed;
      expect(closed.code).toBe(CloseCode.policyViolation);
      expect(closed.reason).toMatch(new RegExp(`^${reason}: `));
      expect(await protocolErrors(a, reason)).toBe(before + 1);
      expect(bad.frames.filter((f) => f.type !== 'welcome')).toEqual([]);
      await waitFor(async () => (await listed(a)).map((x) => x.nodeName).join() === 'node-good', 5000, 'only the good agent listed', 10);
      await unaffected(a, good, 'node-good');
    });

    it('names the claimed and the real address when it refuses an impersonation', async () => {
      const bad = connect(a, local);
      await bad.opened;
      bad.send(hello(testIdentity({ nodeName: 'node-x', mode: 'pod', podIp: '198.19.9.2' })));
      expect((await bad.closed).reason).toBe(`impersonation: hello claims podIp 198.19.9.2 but connects from ${local}`);
    });

    it('welcomes a hello whose address for its mode is the one it connects from (the other address is not checked)', async () => {
      const pod = await welcomed(a, testIdentity({ nodeName: 'node-p', mode: 'pod', podIp: local, hostIp: '198.18.0.11' }), local);
      const host = await welcomed(a, testIdentity({ nodeName: 'node-h', mode: 'host', podIp: '198.19.1.2', hostIp: local }), local);
      expect((await listed(a)).map((x) => x.nodeName).sort()).toEqual(['node-h', 'node-p']);
      await unaffected(a, pod, 'node-p');
      await unaffected(a, host, 'node-h');
    });

    it('welcomes loopback peers whatever they announce: the loopback demo agents all connect from 127.0.0.1', async () => {
      const specs = loopbackAgentSpecs(3);
      const demo = [];
      for (const s of specs) {
        demo.push(await welcomed(a, testIdentity({ nodeName: s.nodeName, mode: s.mode, podIp: s.podIp, hostIp: s.hostIp }), LOOPBACK));
      }
      expect(await listed(a)).toHaveLength(specs.length);
      for (const [i, c] of demo.entries()) await unaffected(a, c, specs[i]?.nodeName ?? '');
    });

    it('acknowledges, counts and never records a result for a test the agent was not given, and keeps the connection', async () => {
      good = await welcomed(a, goodIdentity, local);
      const bad = await welcomed(a, testIdentity({ nodeName: 'node-bad', mode: 'pod', podIp: local }), local);
      const unknown = await counter(a, 'netmatrix_results_ignored_total', { reason: 'unknown-test' });
      bad.send({ ...testResult('forged-1', 'test-of-someone-else'), ok: true });
      await waitFor(() => bad.frames.some((f) => f.type === 'ack' && f.resultIds.includes('forged-1')), 5000, 'ack', 10);
      expect(await counter(a, 'netmatrix_results_ignored_total', { reason: 'unknown-test' })).toBe(unknown + 1);
      expect(a.agg.store.latest(10)).toEqual([]);
      expect(bad.ws.readyState).toBe(WebSocket.OPEN);
      await unaffected(a, good, 'node-good');
    });
  });
});

describe('the impersonation rule', () => {
  it('accepts every lab agent: each connects from the address it announces for its mode', () => {
    const specs = labAgentSpecs(planLab(3));
    expect(specs).toHaveLength(6);
    for (const s of specs) {
      const identity = testIdentity({ nodeName: s.nodeName, mode: s.mode, podIp: s.podIp, hostIp: s.hostIp });
      // A pod agent's socket leaves its pod namespace from the pod IP; a host agent's from the node IP.
      const source = s.mode === 'pod' ? s.podIp : s.hostIp;
      expect(impersonation(identity, source), `${s.mode} agent of ${s.nodeName}`).toBeUndefined();
    }
  });

  it('checks podIp for pod agents and hostIp for host agents, exempting loopback peers', () => {
    const pod = testIdentity({ nodeName: 'n', mode: 'pod', podIp: '198.19.1.2', hostIp: '198.18.0.11' });
    const host = { ...pod, mode: 'host' as const };
    expect(impersonation(pod, '198.19.1.2')).toBeUndefined();
    expect(impersonation(pod, '198.18.0.11')).toMatch(/^impersonation: hello claims podIp 198\.19\.1\.2 but connects from 198\.18\.0\.11$/);
    expect(impersonation(host, '198.18.0.11')).toBeUndefined();
    expect(impersonation(host, '198.19.1.2')).toMatch(/claims hostIp 198\.18\.0\.11/);
    expect(impersonation(pod, '127.0.0.1')).toBeUndefined();
    expect(impersonation(pod, '127.5.6.7')).toBeUndefined();
    expect(impersonation(pod, '::1')).toBeUndefined();
    expect(impersonation(pod, undefined)).toMatch(/an unknown address/);
    expect(remoteIpv4('::ffff:198.19.1.2')).toBe('198.19.1.2');
    expect(impersonation(pod, remoteIpv4('::ffff:198.19.1.2'))).toBeUndefined();
    // The aggregator's default checks pod agents only; host agents may be tunnelled or SNATed.
    expect(impersonation(host, '198.19.1.2', 'pod')).toBeUndefined();
    expect(impersonation(pod, '198.18.0.11', 'pod')).toMatch(/claims podIp/);
    expect(impersonation(pod, '198.18.0.11', 'off')).toBeUndefined();
  });
});

describe('the bad-token window', () => {
  it('blocks a key after `limit` events within the window and frees it as the oldest leaves the window', () => {
    let now = 1_000_000;
    const l = new WindowLimiter(3, 60_000, () => now);
    l.record('a');
    now += 10_000;
    l.record('a');
    l.record('a');
    expect(l.blockedFor('a')).toBe(50_000);
    expect(l.blockedFor('b')).toBe(0);
    now += 49_999;
    expect(l.blockedFor('a')).toBe(1);
    now += 1;
    expect(l.blockedFor('a')).toBe(0);
    now += 10_000;
    expect(l.blockedFor('a')).toBe(0);
  });

  it('forgets the stalest keys beyond its capacity rather than growing without bound', () => {
    const l = new WindowLimiter(1, 60_000, () => 0);
    for (let i = 0; i < 10_001; i++) l.record(`k${i}`);
    expect(l.blockedFor('k0')).toBe(0);
    expect(l.blockedFor('k10000')).toBe(60_000);
  });
});
