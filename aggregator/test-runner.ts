/**
 * Runs one test between two agents, step by step (DESIGN.md "One test"): the target serves,
 * says ready, the source probes, both report; any step that does not happen in time fails the
 * test with a reason, and both agents are told to stop. A latency test goes the same way with
 * sockperf, except that its server never ends by itself: it is cancelled once the client has
 * reported, and owes no result.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { failure, type Failure } from '../shared/errors.js';
import type { AgentIdentity, LatencySpec, Path, Protocol, ResultMessage, TestSpec } from '../shared/protocol.js';
import { sideCost, type TestResult } from '../shared/result.js';
import { SOCKPERF_CLIENT_OVERHEAD_MS } from '../shared/sockperf.js';
import { iperf3RunSeconds } from '../shared/iperf3.js';
import type { AgentSession } from './agents.js';
import { within, type Broker } from './broker.js';

/** What kind of test, with its spec. */
export type KindAndSpec = { kind: 'throughput'; spec: TestSpec } | { kind: 'latency'; spec: LatencySpec };

export type TestPlan = KindAndSpec & {
  path: Path;
  protocol: Protocol;
  /** The client side (iperf3 -c, sockperf ping-pong). */
  client: AgentSession;
  /** The server side. */
  server: AgentSession;
  /** What the client dials: node IP, pod IP or service address. */
  targetAddress: string;
  runId: string | null;
  label: string | null;
};

export interface RunnerTimeouts {
  readyTimeoutMs: number;
  /** Slack over the spec's duration for the client's result. */
  resultMarginMs: number;
  /** How long after the client's result the server's may come. */
  serverAfterClientMs: number;
}

export async function runTest(plan: TestPlan, broker: Broker, t: RunnerTimeouts, log: Logger): Promise<TestResult> {
  const testId = randomUUID();
  const startedAt = new Date();
  const { server, client } = plan;
  const port = server.identity.iperf3Port;
  const active = broker.open(testId, server.id, client.id);
  const tlog = log.child({
    testId,
    path: plan.path,
    protocol: plan.protocol,
    source: client.identity.nodeName,
    target: server.identity.nodeName,
  });
  let clientMsg: ResultMessage | undefined;
  let serverMsg: ResultMessage | undefined;
  let fail: Failure | undefined;
  try {
    // The idle timeout bounds a server whose client never comes (e.g. the probe was lost).
    const idleTimeoutSeconds = Math.ceil((t.readyTimeoutMs + resultMarginMs(t, client.identity)) / 1000);
    const bindAddress = plan.path === 'node' ? server.identity.hostIp : server.identity.podIp;
    server.send(
      plan.kind === 'latency'
        ? { type: 'serve-latency', testId, bindAddress, port, spec: plan.spec, idleTimeoutSeconds }
        : { type: 'serve', testId, bindAddress, port, spec: plan.spec, idleTimeoutSeconds },
    );
    const ready = await within(
      active.ready.promise,
      t.readyTimeoutMs,
      failure('server-not-ready', `no ready within ${t.readyTimeoutMs} ms`),
    );
    if (!ready.ok) {
      fail = ready.failure;
    } else {
      const target = plan.targetAddress;
      client.send(
        plan.kind === 'latency'
          ? { type: 'probe-latency', testId, target, port, spec: plan.spec }
          : { type: 'probe', testId, target, port, spec: plan.spec },
      );
      // sockperf spends a fixed warm-up and drain beyond its -t; iperf3 runs its omitted seconds first.
      const runMs =
        plan.kind === 'latency' ? plan.spec.durationSeconds * 1000 + SOCKPERF_CLIENT_OVERHEAD_MS : iperf3RunSeconds(plan.spec) * 1000;
      const limit = runMs + resultMarginMs(t, client.identity);
      const c = await within(active.clientResult.promise, limit, failure('test-timeout', `no client result within ${limit} ms`));
      if (c.ok) clientMsg = c.value;
      else fail = c.failure;
    }
    if (plan.kind === 'latency') {
      // The sockperf server runs until told: done with it. It reports only a failure to start.
      if (!fail) server.send({ type: 'cancel', testId, reason: 'done' });
    } else {
      // A client that refused its command never dialled: its server would wait for a client
      // until its idle timeout, so a refusal gets the short wait a failure gets.
      const refused = clientMsg?.ok === false && clientMsg.error?.code === 'spec-refused';
      const s = await within(
        active.serverResult.promise,
        fail || refused ? 1000 : t.serverAfterClientMs,
        failure('test-timeout', 'no server result'),
      );
      if (s.ok) serverMsg = s.value;
      // A killed server agent takes its iperf3 with it before its own socket closes: the client's
      // iperf3-error can arrive first. The agent gone is the cause, not the client's symptom.
      else if (!fail && clientMsg && !clientMsg.ok && s.failure.code === 'agent-lost') fail = s.failure;
    }
  } finally {
    broker.close(testId);
  }
  if (!fail && clientMsg && !clientMsg.ok) fail = clientMsg.error ?? failure('iperf3-error');
  if (!fail && serverMsg && !serverMsg.ok && !clientMsg?.iperf) fail = serverMsg.error ?? failure('iperf3-error');
  if (fail) {
    // Free both agents: a stalled server or client must not hold the node.
    server.send({ type: 'cancel', testId, reason: fail.code });
    client.send({ type: 'cancel', testId, reason: fail.code });
    tlog.debug({ code: fail.code, reason: fail.message }, 'test failed');
  }
  const iperf = clientMsg?.iperf ?? null;
  const serverIperf = serverMsg?.iperf ?? null;
  const latency = plan.kind === 'latency' ? (clientMsg?.latency ?? null) : null;
  const ok = !fail && (plan.kind === 'latency' ? latency !== null : iperf !== null);
  const clientCpu = clientMsg?.cpu ?? null;
  const serverCpu = serverMsg?.cpu ?? null;
  return {
    id: testId,
    runId: plan.runId,
    label: plan.label,
    kind: plan.kind,
    path: plan.path,
    protocol: plan.protocol,
    spec: plan.spec,
    source: {
      node: client.identity.nodeName,
      pod: client.identity.podName,
      topology: null,
      cpu: clientCpu,
      cpuSecondsPerGigabyte: sideCost(clientCpu, iperf),
      nic: clientMsg?.nic ?? null,
    },
    target: {
      node: server.identity.nodeName,
      pod: server.identity.podName,
      topology: null,
      address: plan.targetAddress,
      port,
      cpu: serverCpu,
      cpuSecondsPerGigabyte: sideCost(serverCpu, iperf),
      nic: serverMsg?.nic ?? null,
    },
    startedAt: new Date(clientMsg?.startedAtMs ?? startedAt.getTime()).toISOString(),
    endedAt: new Date(clientMsg?.endedAtMs ?? Date.now()).toISOString(),
    ok,
    error: ok
      ? null
      : (fail ??
        (plan.kind === 'latency'
          ? failure('sockperf-bad-output', 'no sockperf report')
          : failure('iperf3-bad-output', 'no iperf3 report'))),
    throughputBitsPerSecond: ok && iperf ? iperf.receivedBitsPerSecond : null,
    iperf,
    serverIperf,
    latency: ok ? latency : null,
  };
}

/** Time the agent gets to report after the end of its own deadline (the frame in flight), ms. */
const AGENT_VERDICT_GRACE_MS = 2000;

/**
 * How long past the test's run (its duration, plus an iperf3 test's omitted seconds) the
 * aggregator waits for the client's result: the configured
 * margin, but never less than the client agent's own deadline slack plus a grace, so the
 * agent's verdict (iperf3-timeout, connect-timeout) is what gets recorded, not test-timeout.
 */
export function resultMarginMs(t: Pick<RunnerTimeouts, 'resultMarginMs'>, client: AgentIdentity): number {
  const slack = client.limits.deadlineSlackMs;
  return slack === undefined ? t.resultMarginMs : Math.max(t.resultMarginMs, slack + AGENT_VERDICT_GRACE_MS);
}

/** The recorded result of a test that could not start (an agent gone, no target address). */
export function unrunnableResult(
  t: KindAndSpec & { path: Path; protocol: Protocol; source: string; target: string; runId: string | null; label: string | null },
  f: Failure,
  now = new Date(),
): TestResult {
  const side = (node: string) => ({ node, pod: '', topology: null, cpu: null, cpuSecondsPerGigabyte: null, nic: null });
  return {
    id: randomUUID(),
    runId: t.runId,
    label: t.label,
    kind: t.kind,
    path: t.path,
    protocol: t.protocol,
    spec: t.spec,
    source: side(t.source),
    target: { ...side(t.target), address: '', port: 0 },
    startedAt: now.toISOString(),
    endedAt: now.toISOString(),
    ok: false,
    error: f,
    throughputBitsPerSecond: null,
    iperf: null,
    serverIperf: null,
    latency: null,
  };
}
