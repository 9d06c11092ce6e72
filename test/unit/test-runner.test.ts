/**
 * The aggregator's side of one test (runTest) against in-memory agent sessions that answer on a
 * script: how long it waits for a client's verdict. The real agents and iperf3 are in
 * test/integration/faults.test.ts ("an iperf3 that hangs").
 */
import { pino } from 'pino';
import { expect, it } from 'vitest';
import type { AgentSession } from '../../aggregator/agents.js';
import { Broker } from '../../aggregator/broker.js';
import { resultMarginMs, runTest } from '../../aggregator/test-runner.js';
import type { AgentIdentity, AggregatorMessage, ResultMessage } from '../../shared/protocol.js';
import { testIdentity } from '../helpers/identity.js';

const log = pino({ level: 'silent' });
const spec = {
  kind: 'throughput' as const,
  protocol: 'tcp' as const,
  durationSeconds: 1,
  bitrateBitsPerSecond: 0,
  streams: 1,
  reverse: false,
};

/** An in-memory session whose agent answers commands through the broker as `answer` says. */
function session(id: string, identity: AgentIdentity, answer: (m: AggregatorMessage) => void): AgentSession {
  return { id, identity, connectedAt: new Date(), send: (m) => (answer(m), true), close: () => undefined };
}

/** A 1 s TCP pod-to-pod test from `client` to `server` (after `omitSeconds` omitted ones). */
function podPlan(client: AgentSession, server: AgentSession, omitSeconds = 0) {
  return {
    path: 'pod' as const,
    protocol: 'tcp' as const,
    spec: { ...spec, omitSeconds },
    client,
    server,
    targetAddress: '198.19.1.2',
    runId: null,
    label: null,
  };
}

/** A client that reports its own deadline kill `afterMs` after the probe, and a server that is ready at once. */
async function testWithLateClient(clientSlackMs: number | undefined, afterMs: number, marginMs: number, omitSeconds = 0) {
  const broker = new Broker();
  const limits = { ...testIdentity({ nodeName: 'x' }).limits, ...(clientSlackMs === undefined ? {} : { deadlineSlackMs: clientSlackMs }) };
  const verdict = (testId: string, role: 'client' | 'server'): ResultMessage => ({
    type: 'result',
    resultId: `${testId}-${role}`,
    testId,
    role,
    startedAtMs: Date.now(),
    endedAtMs: Date.now(),
    ok: false,
    error: { code: 'iperf3-timeout', message: 'killed by the agent' },
  });
  const server = session('s', testIdentity({ nodeName: 'target' }), (m) => {
    if (m.type === 'serve') setImmediate(() => broker.ready('s', m.testId));
  });
  const client = session('c', testIdentity({ nodeName: 'source', limits }), (m) => {
    if (m.type === 'probe') setTimeout(() => broker.result('c', verdict(m.testId, 'client')), afterMs);
  });
  return runTest(
    podPlan(client, server, omitSeconds),
    broker,
    { readyTimeoutMs: 1000, resultMarginMs: marginMs, serverAfterClientMs: 10 },
    log,
  );
}

it("waits for the client agent's own deadline even when the configured margin is shorter, so its reason is recorded", async () => {
  // Margin 50 ms, but the agent may take 400 ms past the duration before it kills its client.
  const r = await testWithLateClient(400, 1000 + 300, 50);
  expect(r.error?.code).toBe('iperf3-timeout');
});

it("waits through a test's omitted seconds too: iperf3 runs them before its duration", async () => {
  // 3 s omitted + 1 s measured; the agent reports 300 ms into its 400 ms slack. Without the
  // omitted seconds the aggregator would give up at 1 s + 400 ms slack + 2 s grace.
  const r = await testWithLateClient(400, 3000 + 1000 + 300, 50, 3);
  expect(r.error?.code).toBe('iperf3-timeout');
});

it('gives up with test-timeout at the configured margin when the agent announced no slack', async () => {
  const r = await testWithLateClient(undefined, 1000 + 300, 50);
  expect(r.error?.code).toBe('test-timeout');
});

it("records agent-lost, not the client's iperf3-error, when the server agent vanishes just after the client reported", async () => {
  const broker = new Broker();
  const server = session('s', testIdentity({ nodeName: 'target' }), (m) => {
    if (m.type === 'serve') setImmediate(() => broker.ready('s', m.testId));
  });
  // The server agent is SIGKILLed: its iperf3 dies first, the client reports the broken
  // connection, and only then does the server agent's socket close.
  const client = session('c', testIdentity({ nodeName: 'source' }), (m) => {
    if (m.type !== 'probe') return;
    setTimeout(() => {
      broker.result('c', {
        type: 'result',
        resultId: 'r-c',
        testId: m.testId,
        role: 'client',
        startedAtMs: Date.now(),
        endedAtMs: Date.now(),
        ok: false,
        error: { code: 'iperf3-error', message: 'unable to receive results: Connection reset by peer' },
      });
      setTimeout(() => broker.sessionClosed('s'), 20);
    }, 50);
  });
  const r = await runTest(podPlan(client, server), broker, { readyTimeoutMs: 1000, resultMarginMs: 1000, serverAfterClientMs: 500 }, log);
  expect(r.error).toEqual({ code: 'agent-lost', message: 'the server agent disconnected' });
});

it('does not wait out the server of a client that refused its command (it never dialled), and frees the server', async () => {
  const broker = new Broker();
  const sent: string[] = [];
  const server = session('s', testIdentity({ nodeName: 'target' }), (m) => {
    sent.push(m.type);
    if (m.type === 'serve') setImmediate(() => broker.ready('s', m.testId));
  });
  const client = session('c', testIdentity({ nodeName: 'source' }), (m) => {
    if (m.type !== 'probe') return;
    const now = Date.now();
    const error = { code: 'spec-refused' as const, message: 'unlimited bitrate requested but the agent caps it at 1000000000 bit/s' };
    setImmediate(() =>
      broker.result('c', {
        type: 'result',
        resultId: 'r-c',
        testId: m.testId,
        role: 'client',
        startedAtMs: now,
        endedAtMs: now,
        ok: false,
        error,
      }),
    );
  });
  const started = Date.now();
  const r = await runTest(podPlan(client, server), broker, { readyTimeoutMs: 1000, resultMarginMs: 1000, serverAfterClientMs: 5000 }, log);
  expect(r.error?.code).toBe('spec-refused');
  expect(Date.now() - started).toBeLessThan(2500);
  expect(sent).toEqual(['serve', 'cancel']);
});

it('uses the larger of the configured margin and the agent slack plus a grace', () => {
  const identity = (deadlineSlackMs?: number) =>
    testIdentity({
      nodeName: 'n',
      limits: { ...testIdentity({ nodeName: 'n' }).limits, ...(deadlineSlackMs === undefined ? {} : { deadlineSlackMs }) },
    });
  expect(resultMarginMs({ resultMarginMs: 15_000 }, identity(8000))).toBe(15_000);
  expect(resultMarginMs({ resultMarginMs: 1000 }, identity(8000))).toBe(10_000);
  expect(resultMarginMs({ resultMarginMs: 1000 }, identity())).toBe(1000);
});
