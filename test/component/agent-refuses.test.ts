/**
 * The agent refuses, by itself, every command outside its own limits, before anything is
 * spawned or sent: targets outside its allowed CIDRs, hostnames, shell metacharacters, ports
 * outside its range, durations, bitrates and stream counts over its caps, and shapes the
 * protocol would never let through (NaN, fractions). The executor runs with the real
 * Iperf3Runner behind a recorder, and the process table is checked for iperf3 children too.
 *
 * Safety: no command here may send traffic outside 198.18.0.0/15 and 127.0.0.0/8. Commands
 * aimed elsewhere are only ever checked for being refused; the one command that does run
 * (the control) targets a closed port on 127.0.0.1.
 */
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Executor } from '../../agent/executor.js';
import { Iperf3Runner } from '../../agent/iperf3-runner.js';
import { SockperfRunner } from '../../agent/sockperf-runner.js';
import type { ProbeRun, ServeRun } from '../../agent/kind-runner.js';
import { isListening } from '../../agent/listening.js';
import { parseCidr } from '../../shared/limits.js';
import { exec } from '../../sys/exec.js';
import {
  parseAggregatorMessage,
  ProtocolError,
  ResultSchema,
  type AgentLimits,
  type LatencySpec,
  type ProbeCommand,
  type ResultMessage,
  type ServeCommand,
  type ThroughputSpec,
} from '../../shared/protocol.js';
import { describeWith, waitFor } from '../helpers/requirements.js';

const PORT_MIN = 5301;
const PORT_MAX = 5399;
const limits: AgentLimits = {
  maxDurationSeconds: 30,
  maxBitrateBitsPerSecond: 1_000_000_000,
  maxStreams: 4,
  portMin: PORT_MIN,
  portMax: PORT_MAX,
  allowedTargetCidrs: ['198.18.0.0/15', '127.0.0.0/8'],
  maxOmitSeconds: 60,
};
const spec: ThroughputSpec = {
  kind: 'throughput',
  protocol: 'tcp',
  durationSeconds: 1,
  bitrateBitsPerSecond: 1_000_000,
  streams: 1,
  reverse: false,
};
const log = pino({ level: 'silent' });

/** The ranges any traffic of this file may go to. */
const SAFE = [parseCidr('198.18.0.0/15'), parseCidr('127.0.0.0/8')];
const safe = (ip: string) => SAFE.some((inRange) => inRange(ip));

/** iperf3 processes that are children of this test process. */
function ourIperf3(): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(process.pid), '-x', 'iperf3'], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

interface Agent {
  ex: Executor;
  results: ResultMessage[];
  /** Every call that reached the runner: the only way anything gets spawned. */
  runs: { role: 'client' | 'server'; cmd: ServeRun<unknown> | ProbeRun<unknown> }[];
  /** Frames the protocol parser refused, as the agent's link does before its executor sees them. */
  frameErrors: string[];
}
const agents: Agent[] = [];

/** An executor with the real runners behind recorders; `sockperf: false` is an agent without sockperf. */
function agent(o: { sockperf?: boolean } = {}): Agent {
  const real = new Iperf3Runner({ binary: 'iperf3', connectTimeoutMs: 1000, deadlineMarginMs: 3000 });
  const realLatency = new SockperfRunner({ binary: 'sockperf', connectTimeoutMs: 1000, deadlineMarginMs: 3000 });
  const runs: Agent['runs'] = [];
  const results: ResultMessage[] = [];
  const ex = new Executor({
    limits,
    sampler: { begin: () => Promise.reject(new Error('no cpu sampling in this test')) },
    nic: null,
    runners: {
      latency:
        o.sockperf === false
          ? null
          : {
              probe: (cmd, signal) => {
                runs.push({ role: 'client', cmd });
                if (!safe(cmd.target)) throw new Error(`BUG: the executor let a latency probe to ${cmd.target} reach the runner`);
                return realLatency.probe(cmd, signal);
              },
              serve: (cmd, signal, onListening) => {
                runs.push({ role: 'server', cmd });
                return realLatency.serve(cmd, signal, onListening);
              },
            },
      throughput: {
        probe: (cmd, signal) => {
          runs.push({ role: 'client', cmd });
          // Belt and braces: should a refusal ever regress, this file still sends nothing outside the safe ranges.
          if (!safe(cmd.target)) throw new Error(`BUG: the executor let a probe to ${cmd.target} reach the runner`);
          return real.probe(cmd, signal);
        },
        serve: (cmd, signal, onReady) => {
          runs.push({ role: 'server', cmd });
          return real.serve(cmd, signal, onReady);
        },
      },
    },
    onResult: (r) => results.push(r),
    onReady: () => undefined,
    log,
  });
  const a = { ex, results, runs, frameErrors: [] };
  agents.push(a);
  return a;
}

/**
 * Hand `cmd` to the agent as its link does: the frame through the protocol parser (the one
 * check of a command's shape), then to the executor (the agent's limits policy).
 */
function deliver(a: Agent, cmd: object): void {
  let m;
  try {
    m = parseAggregatorMessage(JSON.stringify(cmd));
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    a.frameErrors.push((e as Error).message);
    return;
  }
  if (m.type === 'serve') a.ex.serve(m);
  else if (m.type === 'probe') a.ex.probe(m);
  else throw new Error(`not a command: ${m.type}`);
}

afterEach(async () => {
  for (const a of agents.splice(0)) a.ex.cancel(undefined, 'test over');
  await waitFor(() => ourIperf3().length === 0, 10_000, 'no iperf3 left running', 20);
});

const probe = (o: Partial<ProbeCommand>): ProbeCommand => ({
  type: 'probe',
  testId: 'p1',
  target: '127.0.0.1',
  port: PORT_MIN,
  spec,
  ...o,
});
const serve = (o: Partial<ServeCommand>): ServeCommand => ({
  type: 'serve',
  testId: 's1',
  bindAddress: '127.0.0.1',
  port: PORT_MIN,
  spec,
  idleTimeoutSeconds: 5,
  ...o,
});

const latencySpec: LatencySpec = {
  kind: 'latency',
  protocol: 'tcp',
  durationSeconds: 1,
  messageSizeBytes: 64,
  messagesPerSecond: 100,
  connectSamples: 0,
};
const probeLatency = (o: Partial<ProbeCommand>): ProbeCommand => ({
  type: 'probe',
  testId: 'l1',
  target: '127.0.0.1',
  port: PORT_MIN,
  spec: latencySpec,
  ...o,
});
const serveLatency = (o: Partial<ServeCommand>): ServeCommand => ({
  type: 'serve',
  testId: 'l2',
  bindAddress: '127.0.0.1',
  port: PORT_MIN,
  spec: latencySpec,
  idleTimeoutSeconds: 5,
  ...o,
});

/**
 * The refusal is synchronous: the frame is refused by the parser (a malformed shape: the
 * message names the field), or the agent's result is there before the call returns (a command
 * outside its limits); either way nothing ran.
 */
function expectRefused(a: Agent, role: 'client' | 'server', message: RegExp): void {
  expect(a.runs).toEqual([]);
  expect(a.ex.busyWith).toBeUndefined();
  expect(a.results.length + a.frameErrors.length).toBe(1);
  if (a.frameErrors.length > 0) {
    expect(a.frameErrors[0]).toMatch(message);
  } else {
    const r = a.results[0];
    expect(r).toMatchObject({ role, ok: false, error: { code: 'spec-refused' } });
    expect(r?.error?.message).toMatch(message);
  }
  expect(ourIperf3()).toEqual([]);
}

describe('probe commands outside the limits are refused before anything is sent', () => {
  it.each<[string, Partial<ProbeCommand>, RegExp]>([
    ['a public target (8.8.8.8)', { target: '8.8.8.8' }, /target 8\.8\.8\.8 is outside the agent's allowed ranges/],
    ['a target just outside 198.18.0.0/15', { target: '198.20.0.1' }, /outside the agent's allowed ranges/],
    ['a private target not allowed (10.0.0.1)', { target: '10.0.0.1' }, /outside the agent's allowed ranges/],
    ['a hostname target', { target: 'example.com' }, /target: /],
    ['a target with shell metacharacters', { target: '1.2.3.4;rm -rf /' }, /target: /],
    ['an allowed address followed by a shell command', { target: '127.0.0.1 && touch /tmp/pwned' }, /target: /],
    ['a command substitution', { target: '$(reboot)' }, /target: /],
    ['an option-looking target', { target: '--help' }, /target: /],
    ['a port below the range', { port: PORT_MIN - 1 }, /port 5300 is outside the agent's range 5301-5399/],
    ['a port above the range', { port: PORT_MAX + 1 }, /port 5400 is outside/],
    ['port 0', { port: 0 }, /port: /],
    ['a NaN port', { port: Number.NaN }, /port: /],
    ['a fractional port', { port: PORT_MIN + 0.5 }, /port: /],
    ['a duration over the limit', { spec: { ...spec, durationSeconds: 31 } }, /duration 31s exceeds the agent's limit of 30s/],
    ['a bitrate over the cap', { spec: { ...spec, bitrateBitsPerSecond: 2_000_000_000 } }, /bitrate 2000000000 bit\/s exceeds/],
    ['an unlimited bitrate under a cap', { spec: { ...spec, bitrateBitsPerSecond: 0 } }, /unlimited bitrate requested/],
    [
      'a duration that its omitted seconds take over the limit',
      { spec: { ...spec, durationSeconds: 30, omitSeconds: 1 } },
      /duration 30s plus 1s omitted exceeds the agent's limit of 30s/,
    ],
    ['an omit over 60 s', { spec: { ...spec, omitSeconds: 61 } }, /spec\.omitSeconds: /],
    ['streams over the limit', { spec: { ...spec, streams: 5 } }, /5 streams exceed the agent's limit of 4/],
    ['zero streams', { spec: { ...spec, streams: 0 } }, /spec\.streams: /],
    ['a fractional duration', { spec: { ...spec, durationSeconds: 1.5 } }, /spec\.durationSeconds: /],
    ['a negative bitrate', { spec: { ...spec, bitrateBitsPerSecond: -1 } }, /spec\.bitrateBitsPerSecond: /],
    ['an extra field', { ...({ shell: 'sh -c id' } as object) }, /invalid message: Unrecognized key: "shell"/],
  ])('refuses %s', (_what, o, message) => {
    const a = agent();
    deliver(a, probe(o));
    expectRefused(a, 'client', message);
  });

  it('sends every refusal as a valid result frame', () => {
    const a = agent();
    a.ex.probe(probe({ target: '8.8.8.8' }));
    a.ex.probe(probe({ target: '1.2.3.4;rm -rf /' }));
    expect(a.results).toHaveLength(2);
    for (const r of a.results) expect(ResultSchema.parse(JSON.parse(JSON.stringify(r)))).toEqual(r);
  });

  it('refuses every probe when no target range is allowed', () => {
    const a = agent();
    const none = new Executor({
      limits: { ...limits, allowedTargetCidrs: [] },
      sampler: { begin: () => Promise.reject(new Error('unused')) },
      nic: null,
      runners: {
        throughput: {
          probe: () => {
            throw new Error('must not run');
          },
          serve: () => {
            throw new Error('must not run');
          },
        },
      },
      onResult: (r) => a.results.push(r),
      onReady: () => undefined,
      log,
    });
    none.probe(probe({ target: '127.0.0.1' }));
    expectRefused(a, 'client', /outside the agent's allowed ranges \(\)/);
  });
});

describe('serve commands outside the limits are refused before anything listens', () => {
  it.each<[string, Partial<ServeCommand>, RegExp]>([
    ['a port below the range', { port: 22 }, /port 22 is outside the agent's range/],
    ['a port above the range', { port: 65535 }, /port 65535 is outside/],
    ['a NaN port', { port: Number.NaN }, /port: /],
    ['a duration over the limit', { spec: { ...spec, durationSeconds: 3600 } }, /duration 3600s exceeds/],
    ['streams over the limit', { spec: { ...spec, streams: 128 } }, /128 streams exceed/],
    ['a bitrate over the cap', { spec: { ...spec, bitrateBitsPerSecond: 10_000_000_000 } }, /exceeds the agent's cap/],
    ['a bind address with shell metacharacters', { bindAddress: '0.0.0.0;id' }, /bindAddress: /],
    ['a hostname bind address', { bindAddress: 'localhost' }, /bindAddress: /],
    ['an idle timeout of 0', { idleTimeoutSeconds: 0 }, /idleTimeoutSeconds: /],
  ])('refuses %s', (_what, o, message) => {
    const a = agent();
    deliver(a, serve(o));
    expectRefused(a, 'server', message);
  });
});

describe('frames the protocol parser stops before the agent sees them', () => {
  const frame = (target: unknown) => JSON.stringify({ type: 'probe', testId: 't', target, port: PORT_MIN, spec });

  it.each(['example.com', '1.2.3.4;rm -rf /', '`id`', '127.0.0.1\n', '::1', '127.0.0.01', '1.2.3', 42, null])(
    'refuses a probe frame whose target is %j with a ProtocolError',
    (target) => {
      expect(() => parseAggregatorMessage(frame(target))).toThrow(ProtocolError);
      expect(() => parseAggregatorMessage(frame(target))).toThrow(/target: /);
    },
  );

  it('passes a well-formed probe frame through (the parser is not what refuses 8.8.8.8: the agent is)', () => {
    expect(parseAggregatorMessage(frame('8.8.8.8'))).toMatchObject({ type: 'probe', target: '8.8.8.8' });
  });
});

describe('any probe frame at all', () => {
  it('is either refused by the parser or the agent, or within every limit (property, fixed seed)', () => {
    const target = fc.oneof(
      fc.ipV4(),
      fc.constantFrom('8.8.8.8', '127.0.0.1', '198.18.0.12', '198.19.255.255', '198.20.0.0', '126.255.255.255', '0.0.0.0'),
      fc.constantFrom('127.0.0.1', '198.18.0.12', '198.19.1.2'),
      fc.constantFrom('localhost', '1.2.3.4;id', '$(id)', '127.0.0.1 ', '::1', ''),
    );
    const frame = fc.record({
      type: fc.constant('probe'),
      testId: fc.constantFrom('t1', 't2', 't3', 'a b', ''),
      target,
      port: fc.oneof(fc.integer({ min: -1, max: 70_000 }), fc.integer({ min: PORT_MIN - 2, max: PORT_MAX + 2 })),
      spec: fc.record({
        kind: fc.constant('throughput'),
        protocol: fc.constantFrom('tcp', 'udp', 'sctp'),
        durationSeconds: fc.integer({ min: -1, max: 40 }),
        bitrateBitsPerSecond: fc.oneof(
          fc.constant(0),
          fc.integer({ min: 1, max: 1_000_000_000 }),
          fc.integer({ min: 1, max: 4_000_000_000 }),
        ),
        streams: fc.integer({ min: 0, max: 6 }),
        reverse: fc.boolean(),
      }),
    });
    const seen = { parser: 0, agent: 0, accepted: 0 };
    fc.assert(
      fc.property(frame, (f) => {
        let cmd;
        try {
          cmd = parseAggregatorMessage(JSON.stringify(f));
        } catch (e) {
          expect(e).toBeInstanceOf(ProtocolError);
          seen.parser++;
          return;
        }
        if (cmd.type !== 'probe' || cmd.spec.kind !== 'throughput') throw new Error(`parsed as ${cmd.type}`);
        const results: ResultMessage[] = [];
        const ex = new Executor({
          limits,
          sampler: { begin: () => Promise.reject(new Error('unused')) },
          nic: null,
          runners: {
            // Never spawns: whether the executor accepted the command is what is checked.
            throughput: {
              probe: () => Promise.resolve({ startedAtMs: 0, endedAtMs: 0 }),
              serve: () => Promise.reject(new Error('unused')),
            },
          },
          onResult: (r) => results.push(r),
          onReady: () => undefined,
          log,
        });
        ex.probe(cmd);
        if (ex.busyWith === undefined) {
          expect(results).toEqual([expect.objectContaining({ ok: false, error: expect.objectContaining({ code: 'spec-refused' }) })]);
          seen.agent++;
          return;
        }
        // Accepted: everything about it is within the limits.
        expect(results).toEqual([]);
        expect(safe(cmd.target)).toBe(true);
        expect(cmd.port).toBeGreaterThanOrEqual(PORT_MIN);
        expect(cmd.port).toBeLessThanOrEqual(PORT_MAX);
        expect(cmd.spec.durationSeconds).toBeLessThanOrEqual(limits.maxDurationSeconds);
        expect(cmd.spec.streams).toBeLessThanOrEqual(limits.maxStreams);
        expect(cmd.spec.bitrateBitsPerSecond).toBeGreaterThan(0);
        expect(cmd.spec.bitrateBitsPerSecond).toBeLessThanOrEqual(limits.maxBitrateBitsPerSecond);
        seen.accepted++;
      }),
      { seed: 4242, numRuns: 2000 },
    );
    // The generator reaches all three outcomes, so the property is not vacuous.
    expect(seen.parser).toBeGreaterThan(0);
    expect(seen.agent).toBeGreaterThan(0);
    expect(seen.accepted).toBeGreaterThan(0);
  });
});

describe('latency commands outside the limits are refused before anything is sent', () => {
  it.each<[string, Partial<ProbeCommand>, RegExp]>([
    ['a public target (8.8.8.8)', { target: '8.8.8.8' }, /target 8\.8\.8\.8 is outside the agent's allowed ranges/],
    ['a hostname target', { target: 'example.com' }, /target: /],
    ['a target with shell metacharacters', { target: '1.2.3.4;rm -rf /' }, /target: /],
    ['a port above the range', { port: PORT_MAX + 1 }, /port 5400 is outside/],
    ['a duration over the limit', { spec: { ...latencySpec, durationSeconds: 31 } }, /duration 31s exceeds the agent's limit of 30s/],
    [
      'a load over the bitrate cap (64 KB x 100,000/s)',
      { spec: { ...latencySpec, messageSizeBytes: 65_000, messagesPerSecond: 100_000 } },
      /latency load 52000000000 bit\/s exceeds the agent's cap of 1000000000/,
    ],
    ["a message below sockperf's minimum", { spec: { ...latencySpec, messageSizeBytes: 13 } }, /spec\.messageSizeBytes: /],
    ['a NaN message rate', { spec: { ...latencySpec, messagesPerSecond: Number.NaN } }, /spec\.messagesPerSecond: /],
    ['an extra field', { ...({ args: ['--daemonize'] } as object) }, /invalid message: Unrecognized key: "args"/],
  ])('refuses %s', (_what, o, message) => {
    const a = agent();
    deliver(a, probeLatency(o));
    expectRefused(a, 'client', message);
  });

  it('refuses a latency server on a port outside the range', () => {
    const a = agent();
    a.ex.serve(serveLatency({ port: PORT_MIN - 1 }));
    expectRefused(a, 'server', /port 5300 is outside the agent's range/);
  });

  it('an agent without sockperf refuses every latency command, and says why', () => {
    const a = agent({ sockperf: false });
    a.ex.probe(probeLatency({}));
    expectRefused(a, 'client', /this agent has no sockperf/);
    const b = agent({ sockperf: false });
    b.ex.serve(serveLatency({}));
    expectRefused(b, 'server', /this agent has no sockperf/);
  });
});

describe('no shell', () => {
  it('the one exec wrapper passes every argument verbatim: shell syntax stays text', async () => {
    const hostile = ['$(id)', '`id`', '1.2.3.4;echo pwned', '&& echo pwned', '| cat /etc/passwd', '> /tmp/x'];
    const r = await exec(['echo', ...hostile], { timeoutMs: 5000 });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(`${hostile.join(' ')}\n`);
  });
});

describeWith({ binaries: ['iperf3', 'sockperf', 'pgrep'] }, 'the observation works (control)', () => {
  it('a probe within the limits does reach the runner and spawn iperf3 (to a closed port on 127.0.0.1)', async () => {
    let port = PORT_MIN;
    while ((await isListening(port)) || !(await bindable(port))) port++;
    const a = agent();
    a.ex.probe(probe({ target: '127.0.0.1', port }));
    expect(a.ex.busyWith).toBe('p1');
    await waitFor(() => a.runs.length > 0, 5000, 'the runner to be called', 5);
    expect(a.runs).toEqual([{ role: 'client', cmd: expect.objectContaining({ target: '127.0.0.1', port }) }]);
    const r = await waitFor(() => a.results[0], 10_000, 'the control result', 20);
    expect(r).toMatchObject({ ok: false, error: { code: 'connection-refused' } });
  });

  it('a latency probe within the limits does reach the runner and spawn sockperf (to a closed port on 127.0.0.1)', async () => {
    let port = PORT_MIN;
    while ((await isListening(port)) || !(await bindable(port))) port++;
    const a = agent();
    a.ex.probe(probeLatency({ target: '127.0.0.1', port }));
    expect(a.ex.busyWith).toBe('l1');
    await waitFor(() => a.runs.length > 0, 5000, 'the runner to be called', 5);
    const r = await waitFor(() => a.results[0], 10_000, 'the control result', 20);
    expect(r).toMatchObject({ ok: false, error: { code: 'connection-refused' } });
  });
});

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}
