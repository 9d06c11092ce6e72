/**
 * The container image (Dockerfile), built and run for real with podman: what is in it (a
 * non-root numeric user, iperf3, no devDependencies, no trace of the build secret), the
 * aggregator and the agent started from it and stopped by SIGTERM through tini, and the lab
 * measured with every agent and the aggregator as containers, the pod agents inside the lab's
 * pod network namespaces: every path, protocol and ordered pair must succeed, as with the
 * process-based lab (matrix.test.ts).
 *
 * No registry is reachable here: scripts/base-image.sh makes the base image with debootstrap
 * (cached), scripts/image.sh builds with the layer cache. The lab has fixed namespace names:
 * run this file under `flock /tmp/netmatrix-lab.lock`.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentFlags, labAgentSpecs } from '../../lab/agents.js';
import { labDown, labUp } from '../../lab/lab.js';
import { planLab } from '../../lab/plan.js';
import { PATHS, PROTOCOLS } from '../../shared/protocol.js';
import type { TestResult } from '../../shared/result.js';
import { exec, execChecked } from '../../sys/exec.js';
import { describeWith, waitFor } from '../helpers/requirements.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const IMAGE = 'netmatrix:test';
const BASE_IMAGE = 'docker.io/library/node:20-bookworm-slim';
const TOKEN = 'image-test-token';
/** Containers of this test carry this label, and the pid of the run that made them. */
const LABEL = 'netmatrix-test=image';
const PID_LABEL = 'netmatrix-test-pid';
const env = { ...process.env, CONTAINERS_CONF: join(ROOT, 'test/image/containers.conf') };

/** podman as this machine needs it: runc (crun fails on this kernel), our containers.conf. */
function podman(args: readonly string[], timeoutMs = 60_000): Promise<string> {
  return execChecked(['podman', '--runtime', '/usr/sbin/runc', ...args], { env, timeoutMs }).then((out) => out.trim());
}

/** Start a detached container of the image, labelled for teardown; returns its name. */
async function runDetached(name: string, podmanArgs: readonly string[], command: readonly string[]): Promise<string> {
  await podman(['run', '-d', '--name', name, '--label', LABEL, '--label', `${PID_LABEL}=${process.pid}`, ...podmanArgs, IMAGE, ...command]);
  return name;
}

/** Run a one-off command in the image (no network) and return its stdout. */
function runOnce(entrypoint: string, args: readonly string[]): Promise<string> {
  return podman(['run', '--rm', '--network', 'none', '--entrypoint', entrypoint, IMAGE, ...args]);
}

async function removeContainers(filter: (pid: number) => boolean): Promise<void> {
  const lines = await podman(['ps', '-a', '--filter', `label=${LABEL}`, '--format', `{{.ID}} {{index .Labels "${PID_LABEL}"}}`]);
  const ids = lines
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' '))
    .filter(([, pid]) => filter(Number(pid)))
    .map(([id]) => id as string);
  if (ids.length > 0) await podman(['rm', '-f', '-t', '0', ...ids]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A TCP port free on `host` now, from `ports` (or any, by default). */
async function freePort(host: string, ports: readonly number[] = [0]): Promise<number> {
  for (const want of ports) {
    const got = await new Promise<number | undefined>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(undefined));
      s.listen(want, host, () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    if (got !== undefined) return got;
  }
  throw new Error(`no free port on ${host} among ${ports.join(',')}`);
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return (await res.json()) as T;
}

/** Stop a container with SIGTERM (SIGKILL after 5 s); how long it took and how it exited. */
async function stopContainer(name: string): Promise<{ ms: number; exitCode: number }> {
  const started = Date.now();
  await podman(['stop', '-t', '5', name], 30_000);
  const ms = Date.now() - started;
  return { ms, exitCode: Number(await podman(['inspect', '--format', '{{.State.ExitCode}}', name])) };
}

describeWith({ root: true, binaries: ['podman', 'debootstrap'] }, 'the container image, built and run with podman', () => {
  beforeAll(async () => {
    // Leftovers of a run that crashed (its process is gone); a live run's containers are its own.
    await removeContainers((pid) => !alive(pid));
    let t = Date.now();
    await execChecked(['bash', join(ROOT, 'scripts/base-image.sh')], { env, timeoutMs: 10 * 60_000 });
    const base = Date.now() - t;
    t = Date.now();
    await execChecked(['bash', join(ROOT, 'scripts/image.sh'), IMAGE], { env, timeoutMs: 15 * 60_000 });
    console.log(`image test: base image ${(base / 1000).toFixed(0)} s, ${IMAGE} built in ${((Date.now() - t) / 1000).toFixed(0)} s`);
  }, 25 * 60_000);

  afterAll(async () => {
    await removeContainers((pid) => pid === process.pid);
    const left = await podman(['ps', '-a', '--filter', `label=${PID_LABEL}=${process.pid}`, '--format', '{{.Names}}']);
    expect(left, 'containers left behind').toBe('');
  }, 60_000);

  describe('what the image holds', () => {
    it('runs as a numeric non-root user, which Kubernetes runAsNonRoot can verify', async () => {
      expect(await podman(['image', 'inspect', '--format', '{{.Config.User}}', IMAGE])).toBe('10001:10001');
      expect(await runOnce('id', ['-u'])).toBe('10001');
    });

    it('starts `netmatrix aggregator` by default, through tini, with ports 8080 and 5201 declared', async () => {
      const config = JSON.parse(await podman(['image', 'inspect', '--format', '{{json .Config}}', IMAGE])) as {
        Entrypoint: string[];
        Cmd: string[];
        ExposedPorts: Record<string, unknown>;
        Labels: Record<string, string>;
      };
      expect(config.Entrypoint).toEqual(['/usr/bin/tini', '--', 'netmatrix']);
      expect(config.Cmd).toEqual(['aggregator']);
      expect(Object.keys(config.ExposedPorts).sort()).toEqual(['5201/tcp', '8080/tcp']);
      expect(config.Labels['org.opencontainers.image.title']).toBe('netmatrix');
    });

    it('offers the `netmatrix` command, through its entrypoint and on PATH (for kubectl exec)', async () => {
      const viaEntrypoint = await podman(['run', '--rm', '--network', 'none', IMAGE, '--help']);
      expect(viaEntrypoint).toMatch(/^usage: netmatrix <command>/);
      for (const c of ['agent', 'aggregator', 'run', 'compare']) expect(viaEntrypoint).toMatch(new RegExp(`^  ${c} `, 'm'));
      expect(await runOnce('netmatrix', ['--help'])).toBe(viaEntrypoint);
    });

    it("has Debian's iperf3 3.12+ and sockperf", async () => {
      expect(await runOnce('iperf3', ['--version'])).toMatch(/^iperf 3\.(1[2-9]|[2-9]\d)/);
      expect(await runOnce('sockperf', ['--version'])).toMatch(/sockperf, version 3\./);
    });

    it('has every production dependency of its lockfile and no dev-only one', async () => {
      // Read inside the image: the lockfile it was built from, the node_modules it holds.
      const script = `
        const fs = require('fs');
        const lock = JSON.parse(fs.readFileSync('/app/package-lock.json', 'utf8'));
        const out = { devPresent: [], prodMissing: [] };
        for (const [path, p] of Object.entries(lock.packages)) {
          if (!path.startsWith('node_modules/')) continue;
          const there = fs.existsSync('/app/' + path);
          if (p.dev && there) out.devPresent.push(path);
          if (!p.dev && !p.optional && !there) out.prodMissing.push(path);
        }
        console.log(JSON.stringify(out));`;
      const { devPresent, prodMissing } = JSON.parse(await runOnce('node', ['-e', script])) as Record<string, string[]>;
      expect(devPresent).toEqual([]);
      expect(prodMissing).toEqual([]);
      const top = (await runOnce('ls', ['/app/node_modules'])).split('\n');
      expect(top).toContain('fastify');
      for (const dev of ['vitest', 'typescript', 'eslint', 'tsx', 'prettier']) expect(top).not.toContain(dev);
    });

    it.skipIf(!process.env.NODE_EXTRA_CA_CERTS)('keeps the extra-ca build secret in none of its layers', async () => {
      const secret = await readFile(process.env.NODE_EXTRA_CA_CERTS as string, 'utf8');
      // A line from the middle of the secret's last certificate: what any copy of it would hold.
      const pems = secret.match(/-----BEGIN CERTIFICATE-----\n[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
      const body = (pems[pems.length - 1] ?? '').split('\n').slice(1, -1);
      const needle = body[Math.floor(body.length / 2)];
      expect(needle, 'a certificate in the secret').toMatch(/^[A-Za-z0-9+/=]{40,}$/);
      const layers = async (image: string) => {
        const dirs = await podman(['image', 'inspect', '--format', '{{.GraphDriver.Data.UpperDir}}:{{.GraphDriver.Data.LowerDir}}', image]);
        return dirs.split(':').filter((d) => d.startsWith('/'));
      };
      const base = new Set(await layers(BASE_IMAGE));
      const ours = (await layers(IMAGE)).filter((d) => !base.has(d));
      expect(ours.length).toBeGreaterThan(2);
      const grep = await exec(['grep', '-rlF', '-e', needle as string, ...ours], { timeoutMs: 60_000 });
      expect(grep.stdout.trim(), 'files holding the secret').toBe('');
      expect(grep.exitCode, grep.stderr).toBe(1);
    });
  });

  describe('the aggregator and an agent from the image, on the host network', () => {
    let port: number;
    let aggregator: string;
    let agent: string;

    beforeAll(async () => {
      port = await freePort('127.0.0.1');
      aggregator = await runDetached(
        `nm-image-agg-${process.pid}`,
        ['--network', 'host'],
        ['aggregator', '--host', '127.0.0.1', '--port', String(port), '--token', TOKEN, '--continuous', 'false'],
      );
    }, 60_000);

    it('answers GET /healthz, with tini as PID 1 and node under it', async () => {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 30_000, 'the aggregator to answer /healthz');
      // tini, not node, receives the container's SIGTERM and reaps orphaned iperf3 processes.
      expect(await podman(['exec', aggregator, 'cat', '/proc/1/comm'])).toBe('tini');
      const children = 'for p in $(cat /proc/1/task/1/children); do cat /proc/$p/comm; done';
      expect(await podman(['exec', aggregator, 'sh', '-c', children])).toBe('node');
    }, 40_000);

    it('serves the live page and its scripts (the page folder is in the image)', async () => {
      const page = await fetch(`http://127.0.0.1:${port}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('/assets/page.js');
      for (const asset of ['page.js', 'page.css', 'vega.min.js', 'vega-lite.min.js']) {
        expect((await fetch(`http://127.0.0.1:${port}/assets/${asset}`)).status, asset).toBe(200);
      }
    });

    it('connects the agent, which reports the image iperf3 and sockperf', async () => {
      const iperf3Port = await freePort(
        '0.0.0.0',
        Array.from({ length: 99 }, (_, i) => 5299 - i),
      );
      agent = await runDetached(
        `nm-image-agent-${process.pid}`,
        ['--network', 'host'],
        [
          'agent',
          '--aggregator',
          `ws://127.0.0.1:${port}/ws/agent`,
          '--token',
          TOKEN,
          '--node-name',
          'image-n1',
          '--pod-name',
          'image-agent',
          '--pod-ip',
          '127.0.0.1',
          '--host-ip',
          '127.0.0.1',
          '--allowed-target-cidrs',
          '127.0.0.0/8',
          '--iperf3-port',
          String(iperf3Port),
        ],
      );
      const agents = await waitFor(
        async () => {
          const list = await getJson<
            Array<{ nodeName: string; iperf3Version: string; sockperfVersion: string | null; iperf3Port: number }>
          >(`http://127.0.0.1:${port}/api/agents`);
          return list.some((a) => a.nodeName === 'image-n1') ? list : undefined;
        },
        30_000,
        'the agent in /api/agents',
      );
      expect(agents).toEqual([
        expect.objectContaining({
          nodeName: 'image-n1',
          iperf3Port,
          iperf3Version: expect.stringMatching(/^3\./),
          sockperfVersion: expect.stringMatching(/^3\./),
        }),
      ]);
    }, 60_000);

    it('stops both promptly on SIGTERM with exit code 0 (tini forwards the signal)', async () => {
      // Without a forwarded SIGTERM, podman would SIGKILL after 5 s and report 137.
      for (const name of [agent, aggregator]) {
        const { ms, exitCode } = await stopContainer(name);
        expect({ name, exitCode }).toEqual({ name, exitCode: 0 });
        expect(ms, `${name} stop time (ms)`).toBeLessThan(4000);
      }
    }, 60_000);
  });

  describe('the 3-node lab with the aggregator and every agent as a container', () => {
    const plan = planLab(3);
    let api: string;
    const agentNames: string[] = [];

    beforeAll(async () => {
      await labUp(plan);
      const port = await freePort(plan.aggregatorIp);
      api = `http://${plan.aggregatorIp}:${port}`;
      // On the host network, listening on the lab bridge: where the process-based lab's
      // aggregator listens, reached by pods through their node.
      await runDetached(
        `nm-image-lab-agg-${process.pid}`,
        ['--network', 'host'],
        [
          'aggregator',
          '--host',
          plan.aggregatorIp,
          '--port',
          String(port),
          '--token',
          TOKEN,
          '--continuous',
          'false',
          '--round-pause-ms',
          '100',
          '--udp-bitrate-bits-per-second',
          '200000000',
          '--service-addresses',
          plan.nodes.map((n) => `${n.name}=${n.serviceIp}`).join(','),
        ],
      );
      await waitFor(async () => (await fetch(`${api}/healthz`)).ok, 30_000, 'the lab aggregator to answer /healthz');
      // The same agents as the process-based lab (labAgentSpecs), each a container joined to
      // its namespace: host agents in nm-node<i>, pod agents in nm-pod<i>.
      for (const s of labAgentSpecs(plan)) {
        const name = `nm-image-${s.mode}-${s.nodeName}-${process.pid}`;
        agentNames.push(name);
        await runDetached(
          name,
          ['--network', `ns:/run/netns/${s.netns}`],
          [...agentFlags(s, name), '--aggregator', `ws://${plan.aggregatorIp}:${port}/ws/agent`, '--token', TOKEN, '--log-level', 'warn'],
        );
      }
      await waitFor(
        async () => (await getJson<unknown[]>(`${api}/api/agents`)).length === agentNames.length,
        60_000,
        `${agentNames.length} containerised agents to connect`,
      );
    }, 180_000);

    afterAll(async () => {
      // Containers first: labDown would SIGKILL what runs in its namespaces and leave them exited.
      await removeContainers((pid) => pid === process.pid);
      await labDown();
    }, 120_000);

    it('has the containers, not processes, as its agents', async () => {
      const agents = await getJson<Array<{ podName: string; nodeName: string; mode: string; podIp: string }>>(`${api}/api/agents`);
      expect(agents.map((a) => a.podName).sort()).toEqual([...agentNames].sort());
      const pods = agents.filter((a) => a.mode === 'pod');
      expect(pods.map((a) => `${a.nodeName}=${a.podIp}`).sort()).toEqual(plan.nodes.map((n) => `${n.name}=${n.podIp}`));
    });

    it('measures every path, protocol and ordered pair, as the process-based lab does, all ok', async () => {
      const res = await fetch(`${api}/api/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ label: 'image-lab', durationSeconds: 1 }),
      });
      expect(res.status).toBe(202);
      const { id } = (await res.json()) as { id: string };
      const run = await waitFor(
        async () => {
          const r = await getJson<{ status: string; total: number; done: number; results: TestResult[] }>(`${api}/api/runs/${id}`);
          return r.status === 'done' ? r : undefined;
        },
        180_000,
        'the run to finish',
        500,
      );
      const failed = run.results
        .filter((r) => !r.ok)
        .map((r) => `${r.path}/${r.protocol} ${r.source.node}->${r.target.node}: ${r.error?.code} ${r.error?.message}`);
      expect(failed).toEqual([]);
      const want = PATHS.flatMap((path) =>
        PROTOCOLS.flatMap((protocol) =>
          plan.nodes.flatMap((s) => plan.nodes.filter((t) => t !== s).map((t) => `${path}/${protocol} ${s.name}->${t.name}`)),
        ),
      );
      expect(want).toHaveLength(36);
      expect(run.total).toBe(want.length);
      expect(run.results.map((r) => `${r.path}/${r.protocol} ${r.source.node}->${r.target.node}`).sort()).toEqual(want.sort());
      for (const r of run.results) {
        expect(r.throughputBitsPerSecond, `${r.path}/${r.protocol} ${r.source.node}->${r.target.node}`).toBeGreaterThan(0);
      }
      // Pod paths ran between the pod agents' containers, at the pod IPs.
      const pod = run.results.filter((r) => r.path === 'pod');
      expect(new Set(pod.map((r) => r.target.address))).toEqual(new Set(plan.nodes.map((n) => n.podIp)));
    }, 200_000);
  });
});
