/**
 * Runs one test between two agents, step by step (DESIGN.md "One test"): the target serves,
 * says ready, the source probes, both report; any step that does not happen in time fails the
 * test with a reason, and both agents are told to stop.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { failure, type Failure } from '../shared/errors.js';
import type { Path, Protocol, ResultMessage, TestSpec } from '../shared/protocol.js';
import { sideCost, type TestResult } from '../shared/result.js';
import type { AgentSession } from './agents.js';
import { within, type Broker } from './broker.js';

export interface TestPlan {
  path: Path;
  protocol: Protocol;
  spec: TestSpec;
  /** The iperf3 client side. */
  client: AgentSession;
  /** The iperf3 server side. */
  server: AgentSession;
  /** What the client dials: node IP, pod IP or service address. */
  targetAddress: string;
  runId: string | null;
  label: string | null;
}

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
  const { server, client, spec } = plan;
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
    const idleTimeoutSeconds = Math.ceil((t.readyTimeoutMs + t.resultMarginMs) / 1000);
    const bindAddress = plan.path === 'node' ? server.identity.hostIp : server.identity.podIp;
    server.send({ type: 'serve', testId, bindAddress, port, spec, idleTimeoutSeconds });
    const ready = await within(
      active.ready.promise,
      t.readyTimeoutMs,
      failure('server-not-ready', `no ready within ${t.readyTimeoutMs} ms`),
    );
    if (!ready.ok) {
      fail = ready.failure;
    } else {
      client.send({ type: 'probe', testId, target: plan.targetAddress, port, spec });
      const limit = spec.durationSeconds * 1000 + t.resultMarginMs;
      const c = await within(active.clientResult.promise, limit, failure('test-timeout', `no client result within ${limit} ms`));
      if (c.ok) clientMsg = c.value;
      else fail = c.failure;
    }
    const s = await within(active.serverResult.promise, fail ? 1000 : t.serverAfterClientMs, failure('test-timeout', 'no server result'));
    if (s.ok) serverMsg = s.value;
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
  const ok = !fail && iperf !== null;
  const clientCpu = clientMsg?.cpu ?? null;
  const serverCpu = serverMsg?.cpu ?? null;
  return {
    id: testId,
    runId: plan.runId,
    label: plan.label,
    path: plan.path,
    protocol: plan.protocol,
    spec,
    source: {
      node: client.identity.nodeName,
      pod: client.identity.podName,
      topology: null,
      cpu: clientCpu,
      cpuSecondsPerGigabyte: sideCost(clientCpu, iperf),
    },
    target: {
      node: server.identity.nodeName,
      pod: server.identity.podName,
      topology: null,
      address: plan.targetAddress,
      port,
      cpu: serverCpu,
      cpuSecondsPerGigabyte: sideCost(serverCpu, iperf),
    },
    startedAt: new Date(clientMsg?.startedAtMs ?? startedAt.getTime()).toISOString(),
    endedAt: new Date(clientMsg?.endedAtMs ?? Date.now()).toISOString(),
    ok,
    error: ok ? null : (fail ?? failure('iperf3-bad-output', 'no iperf3 report')),
    throughputBitsPerSecond: ok && iperf ? iperf.receivedBitsPerSecond : null,
    iperf,
    serverIperf,
  };
}

/** The recorded result of a test that could not start (an agent gone, no target address). */
export function unrunnableResult(
  t: { path: Path; protocol: Protocol; spec: TestSpec; source: string; target: string; runId: string | null; label: string | null },
  f: Failure,
  now = new Date(),
): TestResult {
  const side = (node: string) => ({ node, pod: '', topology: null, cpu: null, cpuSecondsPerGigabyte: null });
  return {
    id: randomUUID(),
    runId: t.runId,
    label: t.label,
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
  };
}
