/**
 * The load generator of `bench:load`, run as its own process (forked by load.ts, which talks to
 * it over the IPC channel): many SIMULATED agents, one raw `ws` client each, on loopback to one
 * aggregator. They are fakes: no iperf3, no sockperf, no CPU sampler. Each says hello, answers
 * the aggregator's pings (ws does it), and answers its commands with the modelled results of
 * load-frames.ts: while agents join, after the test's own duration (a rollout under a running
 * sweep), and once all have joined at once or after a fixed modelled delay, so that the
 * aggregator's scheduler, not iperf3, sets the pace. `ack` and `cancel` need no answer.
 *
 * Lean by design, since it shares two cores with the aggregator: no timer per connection, acks
 * recognised without parsing, results spliced from pre-serialised bodies.
 */
import WebSocket from 'ws';
import type { AggregatorMessage, NetworkMode } from '../../shared/protocol.js';
import { SOCKPERF_CLIENT_OVERHEAD_MS } from '../../shared/sockperf.js';
import { helloFrame, ResultFrames } from './load-frames.js';

/** What load.ts asks for. */
export interface LoadAgentsStart {
  type: 'start';
  url: string;
  token: string;
  nodes: number;
  modes: NetworkMode[];
  /** Modelled test time once every agent is connected: a result is sent this long after its command, ms (0 = at once). */
  testDelayMs: number;
  /**
   * Modelled test time while agents are still joining: `spec`, as long as the test would take
   * (its duration, plus sockperf's warm-up for a latency test), as in a real rollout; or
   * `instant`, at once, the aggregator saturated while it accepts connections.
   */
  joinPace: 'spec' | 'instant';
  /** Handshakes in flight at once while connecting. */
  connectConcurrency: number;
  cores: number;
}

/** What the generator reports back. */
export type LoadAgentsReport =
  | { type: 'up' }
  | { type: 'progress'; welcomed: number; total: number; retries: number; lastError: string | null }
  | { type: 'connected'; welcomed: number; elapsedMs: number; retries: number }
  | { type: 'failed'; message: string }
  | { type: 'stats'; stats: LoadAgentsStats };

export interface LoadAgentsStats {
  welcomed: number;
  /** Connections the aggregator closed after welcoming them, with their close codes. */
  dropped: number;
  dropCodes: Record<string, number>;
  commands: number;
  resultsSent: number;
  /** Client results sent: one per test that ran, the count of tests answered. */
  clientResults: number;
}

/** Attempts per agent before the generator gives up: a real agent would retry forever. */
const ATTEMPTS = 5;
const RETRY_MS = 500;

const stats: LoadAgentsStats = { welcomed: 0, dropped: 0, dropCodes: {}, commands: 0, resultsSent: 0, clientResults: 0 };
let retries = 0;
let lastError: string | null = null;
let resultSeq = 0;
/** Set once every agent is welcomed: from then on tests take `testDelayMs`. */
let joined = false;

function report(r: LoadAgentsReport): void {
  process.send?.(r);
}

/** How long after its command a test's result goes: its modelled duration. */
function delayOf(s: LoadAgentsStart, m: AggregatorMessage): number {
  if (joined || s.joinPace === 'instant') return s.testDelayMs;
  if (m.type !== 'probe' && m.type !== 'serve') return 0;
  if (m.spec.kind === 'latency') return m.type === 'probe' ? m.spec.durationSeconds * 1000 + SOCKPERF_CLIENT_OVERHEAD_MS : 0;
  return m.spec.durationSeconds * 1000;
}

function answer(ws: WebSocket, m: AggregatorMessage, frames: ResultFrames, mode: NetworkMode, prefix: string, s: LoadAgentsStart): void {
  const delayMs = delayOf(s, m);
  const later = (frame: () => string, client = true) => {
    const send = () => {
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(frame());
      stats.resultsSent++;
      if (client) stats.clientResults++;
    };
    if (delayMs > 0) setTimeout(send, delayMs);
    else send();
  };
  const rid = () => `${prefix}.${++resultSeq}`;
  switch (m.type) {
    case 'serve':
      ws.send(`{"type":"ready","testId":"${m.testId}"}`);
      // A sockperf server runs until cancelled and owes no result.
      if (m.spec.kind === 'latency') return;
      // iperf3 -s -1 reports when its one client is done.
      return later(() => frames.throughput(mode, 'server', m.spec.protocol, m.spec.durationSeconds, m.testId, rid()), false);
    case 'probe': {
      const { spec } = m;
      if (spec.kind === 'latency') {
        return later(() => frames.latencyClient(mode, spec.protocol, spec.durationSeconds, spec.connectSamples, m.testId, rid()));
      }
      return later(() => frames.throughput(mode, 'client', spec.protocol, spec.durationSeconds, m.testId, rid()));
    }
    case 'sample-cpu':
      return void ws.send(JSON.stringify({ type: 'cpu-sample', requestId: m.requestId, window: frames.cpuWindow() }));
    case 'welcome':
    case 'ack':
    case 'cancel':
      return;
  }
}

/** Open one agent's connection; resolves once the aggregator has welcomed it. */
function connect(s: LoadAgentsStart, node: number, mode: NetworkMode, frames: ResultFrames): Promise<void> {
  const prefix = `${mode[0]}${node}`;
  const hello = helloFrame(node, mode, s.cores);
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(s.url, { headers: { authorization: `Bearer ${s.token}` }, perMessageDeflate: false });
    let welcomed = false;
    ws.on('open', () => ws.send(hello));
    ws.on('message', (data: Buffer) => {
      const text = data.toString();
      // The most frequent frame by far, and one that needs nothing.
      if (text.startsWith('{"type":"ack"')) return;
      const m = JSON.parse(text) as AggregatorMessage;
      if (m.type === 'welcome') {
        welcomed = true;
        stats.welcomed++;
        return resolve();
      }
      stats.commands++;
      answer(ws, m, frames, mode, prefix, s);
    });
    ws.on('error', (e) => {
      if (!welcomed) reject(e);
    });
    ws.on('close', (code) => {
      if (!welcomed) return reject(new Error(`closed with ${code} before the welcome`));
      stats.dropped++;
      stats.dropCodes[code] = (stats.dropCodes[code] ?? 0) + 1;
    });
  });
}

async function connectWithRetries(s: LoadAgentsStart, node: number, mode: NetworkMode, frames: ResultFrames): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect(s, node, mode, frames);
    } catch (e) {
      if (attempt >= ATTEMPTS) throw new Error(`agent ${mode} of node ${node}: ${e instanceof Error ? e.message : String(e)}`);
      retries++;
      lastError = e instanceof Error ? e.message : String(e);
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }
}

async function start(s: LoadAgentsStart): Promise<void> {
  const frames = new ResultFrames(s.cores);
  const agents = Array.from({ length: s.nodes }, (_, node) => s.modes.map((mode) => ({ node, mode }))).flat();
  const t0 = performance.now();
  const progress = setInterval(
    () => report({ type: 'progress', welcomed: stats.welcomed, total: agents.length, retries, lastError }),
    1000,
  );
  let next = 0;
  const opener = async () => {
    for (let a = agents[next++]; a; a = agents[next++]) await connectWithRetries(s, a.node, a.mode, frames);
  };
  try {
    await Promise.all(Array.from({ length: Math.min(s.connectConcurrency, agents.length) }, opener));
    joined = true;
    report({ type: 'connected', welcomed: stats.welcomed, elapsedMs: performance.now() - t0, retries });
  } catch (e) {
    report({ type: 'failed', message: e instanceof Error ? e.message : String(e) });
  } finally {
    clearInterval(progress);
  }
}

process.on('message', (m: LoadAgentsStart | { type: 'stats' }) => {
  if (m.type === 'stats') return report({ type: 'stats', stats });
  void start(m);
});
report({ type: 'up' });
// The parent is gone: so are we (no orphaned load generator holding thousands of sockets).
process.on('disconnect', () => process.exit(0));
