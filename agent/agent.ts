/**
 * One agent: announces itself, runs the aggregator's commands through the executor and keeps
 * results until they are acknowledged.
 */
import os from 'node:os';
import type { Logger } from 'pino';
import { MAX_OMIT_SECONDS, type AgentIdentity, type AggregatorMessage } from '../shared/protocol.js';
import { helloV1, PROTOCOL_V1, SPOKEN_PROTOCOL_VERSIONS, upgradeV1Frame } from '../shared/protocol-v1.js';
import { procStatIdentity, type ProcStatSnapshot } from '../shared/cpu.js';
import { redacted } from '../shared/settings.js';
import { AGENT_SETTINGS, type AgentConfig } from './config.js';
import { CpuSampler } from './cpu-sampler.js';
import { Executor } from './executor.js';
import { NicSampler, nicToSample } from './nic-sampler.js';
import { readNodeFacts } from './facts.js';
import { Iperf3Runner } from './iperf3-runner.js';
import { agentSlackMs, DEFAULT_AGENT_CONNECT_TIMEOUT_MS } from '../shared/deadlines.js';
import { SockperfRunner } from './sockperf-runner.js';
import { AggregatorLink } from './link.js';
import { Outbox } from './outbox.js';
import { startHealthServer } from './health.js';

export const AGENT_VERSION = '0.1.0';

export interface RunningAgent {
  identity: AgentIdentity;
  stop(): Promise<void>;
}

/**
 * The identity with the freshest reading of the /proc/stat this agent sees, for a hello: the
 * aggregator can compare a pod agent's with its node's host agent's (sameProcStat in
 * shared/cpu.ts), and the closer together the two were taken, the more that tells.
 */
function withProcStat(identity: AgentIdentity, reading: ProcStatSnapshot | undefined): AgentIdentity {
  return reading ? { ...identity, facts: { ...identity.facts, procStat: procStatIdentity(reading) } } : identity;
}

export async function startAgent(config: AgentConfig, log: Logger): Promise<RunningAgent> {
  log.info({ config: redacted(AGENT_SETTINGS, config) }, 'agent starting');
  const runner = new Iperf3Runner({ binary: config.iperf3Binary, connectTimeoutMs: config.connectTimeoutMs });
  const sockperf = new SockperfRunner({ binary: config.sockperfBinary, connectTimeoutMs: config.connectTimeoutMs });
  const [iperf3Version, sockperfVersion, { facts, address }] = await Promise.all([
    runner.version(),
    // Latency tests are optional: an agent without sockperf still measures throughput.
    sockperf.version().catch((e: unknown) => {
      log.warn({ err: e instanceof Error ? e.message : String(e) }, 'sockperf not usable, this agent takes no latency tests');
      return null;
    }),
    readNodeFacts(),
  ]);
  const sampler = new CpuSampler();
  // A reading now, so that the first hello has one before the background history does.
  const firstReading = await sampler.snapshot().catch((e: unknown) => {
    log.warn({ err: e instanceof Error ? e.message : String(e) }, 'cannot read /proc/stat');
    return undefined;
  });
  const podIp = config.podIp ?? address;
  if (!podIp) throw new Error("cannot tell this agent's IP: set NETMATRIX_POD_IP (or --pod-ip)");
  const identity: AgentIdentity = {
    nodeName: config.nodeName ?? os.hostname(),
    podName: config.podName ?? os.hostname(),
    podIp,
    hostIp: config.hostIp ?? podIp,
    mode: config.mode,
    agentVersion: AGENT_VERSION,
    iperf3Version,
    sockperfVersion,
    iperf3Port: config.iperf3Port,
    facts,
    limits: {
      maxDurationSeconds: config.maxDurationSeconds,
      maxBitrateBitsPerSecond: config.maxBitrate,
      maxStreams: config.maxStreams,
      portMin: config.portMin,
      portMax: config.portMax,
      allowedTargetCidrs: [...config.allowedTargets],
      // No deadlineSlackMs at the default connect timeout: both ends derive the client's
      // deadline from the spec (shared/deadlines.ts), and it fits in the aggregator's margin.
      // Announced only when configured otherwise, which the aggregator cannot know (protocol-1
      // agents always sent it; the aggregator still honours it).
      ...(config.connectTimeoutMs === DEFAULT_AGENT_CONNECT_TIMEOUT_MS ? {} : { deadlineSlackMs: agentSlackMs(config) }),
      // Announced so the aggregator knows this agent understands omitSeconds; the duration
      // limit bounds how long a test runs, omitted seconds included.
      maxOmitSeconds: MAX_OMIT_SECONDS,
    },
  };

  sampler.start();
  const nicName = await nicToSample({ configured: config.nic, mode: config.mode, defaultNic: facts.nic });
  const nic = nicName === undefined ? null : new NicSampler({ iface: nicName });
  nic?.start();
  const outbox = new Outbox();
  const flush = () => {
    for (const r of outbox.all()) if (!link.send(r)) break;
  };
  const executor = new Executor({
    limits: identity.limits,
    sampler,
    nic,
    runners: { throughput: runner, latency: sockperfVersion === null ? null : sockperf },
    log,
    onReady: (testId) => link.send({ type: 'ready', testId }),
    onResult: (r) => {
      outbox.add(r);
      if (link.connected) link.send(r);
    },
  });
  const onMessage = (m: AggregatorMessage) => {
    switch (m.type) {
      case 'serve':
        return executor.serve(m);
      case 'probe':
        return executor.probe(m);
      case 'cancel':
        return executor.cancel(m.testId, m.reason);
      case 'ack':
        return outbox.ack(m.resultIds);
      case 'sample-cpu':
        return void sampler.measure(m.durationMs).then(
          (window) => link.send({ type: 'cpu-sample', requestId: m.requestId, window }),
          (e: unknown) => link.send({ type: 'cpu-sample', requestId: m.requestId, window: null, error: String(e) }),
        );
      case 'welcome':
        return;
    }
  };
  const link = new AggregatorLink({
    url: config.aggregatorUrl,
    token: config.token,
    log,
    hello: (protocolVersion) => {
      const agent = withProcStat(identity, sampler.latest() ?? firstReading);
      return protocolVersion === PROTOCOL_V1 ? helloV1(agent, agentSlackMs(config)) : { type: 'hello', protocolVersion, agent };
    },
    protocolVersions: SPOKEN_PROTOCOL_VERSIONS,
    upgrade: (protocolVersion, frame) => (protocolVersion === PROTOCOL_V1 ? upgradeV1Frame(frame) : frame),
    onMessage,
    onConnected: flush,
    // A test whose aggregator is gone has nobody to report to: kill it rather than load the network.
    onDisconnected: () => executor.cancel(undefined, 'aggregator connection lost'),
  });
  link.start();
  const health = config.healthPort > 0 ? await startHealthServer(config.healthPort, () => link.connected) : undefined;
  log.info(
    { node: identity.nodeName, mode: identity.mode, podIp: identity.podIp, iperf3: iperf3Version, nic: nicName ?? null },
    'agent started',
  );
  return {
    identity,
    stop: async () => {
      executor.cancel(undefined, 'agent stopping');
      sampler.stopBackground();
      nic?.stopBackground();
      health?.close();
      await link.stop();
    },
  };
}
