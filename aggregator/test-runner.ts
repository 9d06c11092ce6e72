/**
 * Runs one test between two agents, step by step (ARCHITECTURE.md "One test"): the target
 * serves, says ready, the source probes, both report; any step that does not happen in time
 * fails the test with a reason, and both agents are told to stop. Every kind goes the same way;
 * where kinds differ (a server that ends by itself, or one that is cancelled once the client
 * has reported and owes no result; the tool's failure codes; how long the client runs) it reads
 * the kind's traits (shared/kinds).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { failure, type Failure } from '../shared/errors.js';
import type { AgentIdentity, Path, Protocol, ResultMessage } from '../shared/protocol.js';
import { kindOf, type TestSpec } from '../shared/kinds/index.js';
import { clientResultWaitMs, resultMarginMs as marginFor } from '../shared/deadlines.js';
import { recordedSpec, sideCost, type TestResult } from '../shared/result.js';
import type { AgentSession } from './agents.js';
import { within, type Broker } from './broker.js';

export interface TestPlan {
  /** What the client runs; its kind says which tool. */
  spec: TestSpec;
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
  const kind = kindOf(spec);
  const port = server.identity.iperf3Port;
  const active = broker.open(testId, server.id, client.id, kind.codes.error);
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
      const limit = clientResultWaitMs(spec, t.resultMarginMs, client.identity.limits.deadlineSlackMs);
      const c = await within(active.clientResult.promise, limit, failure('test-timeout', `no client result within ${limit} ms`));
      if (c.ok) clientMsg = c.value;
      else fail = c.failure;
    }
    if (!kind.serverExits) {
      // The server runs until told (sockperf): done with it. It reports only a failure to start.
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
  if (!fail && clientMsg && !clientMsg.ok) fail = clientMsg.error ?? failure(kind.codes.error);
  // A server's failure counts only when the client has no report of its own.
  if (!fail && serverMsg && !serverMsg.ok && !(clientMsg && kind.hasReport(clientMsg))) fail = serverMsg.error ?? failure(kind.codes.error);
  if (fail) {
    // Free both agents: a stalled server or client must not hold the node.
    server.send({ type: 'cancel', testId, reason: fail.code });
    client.send({ type: 'cancel', testId, reason: fail.code });
    tlog.debug({ code: fail.code, reason: fail.message }, 'test failed');
  }
  const iperf = clientMsg?.iperf ?? null;
  const serverIperf = serverMsg?.iperf ?? null;
  const latency = clientMsg?.latency ?? null;
  const ok = !fail && clientMsg !== undefined && kind.hasReport(clientMsg);
  const clientCpu = clientMsg?.cpu ?? null;
  const serverCpu = serverMsg?.cpu ?? null;
  // CPU per byte of a kind that moves next to nothing would be noise: none.
  const cost = (cpu: typeof clientCpu) => (kind.cpuMeaningful ? sideCost(cpu, iperf) : sideCost(cpu, null));
  return {
    id: testId,
    runId: plan.runId,
    label: plan.label,
    kind: spec.kind,
    path: plan.path,
    protocol: plan.protocol,
    spec: recordedSpec(spec),
    source: {
      node: client.identity.nodeName,
      pod: client.identity.podName,
      topology: null,
      cpu: clientCpu,
      cpuSecondsPerGigabyte: cost(clientCpu),
      nic: clientMsg?.nic ?? null,
    },
    target: {
      node: server.identity.nodeName,
      pod: server.identity.podName,
      topology: null,
      address: plan.targetAddress,
      port,
      cpu: serverCpu,
      cpuSecondsPerGigabyte: cost(serverCpu),
      nic: serverMsg?.nic ?? null,
    },
    startedAt: new Date(clientMsg?.startedAtMs ?? startedAt.getTime()).toISOString(),
    endedAt: new Date(clientMsg?.endedAtMs ?? Date.now()).toISOString(),
    ok,
    error: ok ? null : (fail ?? failure(kind.codes.badOutput, `no ${kind.tool} report`)),
    throughputBitsPerSecond: ok && iperf ? iperf.receivedBitsPerSecond : null,
    iperf,
    serverIperf,
    latency: ok ? latency : null,
  };
}

/**
 * How long past the client's run the aggregator waits for its result: the configured margin,
 * or the client agent's announced slack plus a grace when that is longer (shared/deadlines.ts).
 */
export function resultMarginMs(t: Pick<RunnerTimeouts, 'resultMarginMs'>, client: AgentIdentity): number {
  return marginFor(t.resultMarginMs, client.limits.deadlineSlackMs);
}

/** The recorded result of a test that could not start (an agent gone, no target address). */
export function unrunnableResult(
  t: { spec: TestSpec; path: Path; protocol: Protocol; source: string; target: string; runId: string | null; label: string | null },
  f: Failure,
  now = new Date(),
): TestResult {
  const side = (node: string) => ({ node, pod: '', topology: null, cpu: null, cpuSecondsPerGigabyte: null, nic: null });
  return {
    id: randomUUID(),
    runId: t.runId,
    label: t.label,
    kind: t.spec.kind,
    path: t.path,
    protocol: t.protocol,
    spec: recordedSpec(t.spec),
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
