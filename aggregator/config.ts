/**
 * The aggregator's configuration: environment and flags -> one frozen object, logged once at
 * start with secrets redacted. Nothing else in the aggregator reads process.env.
 */
import { z } from 'zod';
import { LAB_STATE_FILE } from '../shared/lab-profile.js';
import { PathSchema, ProtocolSchema } from '../shared/protocol.js';
import { SOCKPERF_MIN_MESSAGE_BYTES } from '../shared/sockperf.js';
import { MAX_STREAMS, throughputKind } from '../shared/kinds/throughput.js';
import {
  latencyKind,
  MAX_LATENCY_CONNECT_SAMPLES,
  MAX_LATENCY_MESSAGE_BYTES,
  MAX_LATENCY_MESSAGES_PER_SECOND,
} from '../shared/kinds/latency.js';
import { LOG_SETTINGS, loadSettings, setting, type SettingsOf } from '../shared/settings.js';
import { parseQuietHours, type QuietHours } from './planning/pacing.js';
import type { SchedulerSettings } from './planning/settings.js';

const listOf = <T extends string>(schema: z.ZodType<T, string>, def: T[]) =>
  setting.list(def).pipe(z.array(schema).min(1, 'at least one value'));

/** "node=ip,node=ip": the service address of each node's pod agent (the lab's ClusterIPs). */
const serviceMap = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const out: Record<string, string> = {};
    for (const part of (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const [node, ip, ...rest] = part.split('=');
      if (!node || !ip || rest.length > 0 || !z.ipv4().safeParse(ip).success) {
        ctx.addIssue({ code: 'custom', message: `"${part}" is not node=IPv4` });
        return z.NEVER;
      }
      out[node] = ip;
    }
    return out;
  });

/** "HH:MM-HH:MM" in UTC, or unset for none. */
const quietHours = z
  .string()
  .optional()
  .transform((v, ctx): QuietHours | null => {
    if (v === undefined || v.trim() === '') return null;
    const parsed = parseQuietHours(v);
    if (typeof parsed === 'string') {
      ctx.addIssue({ code: 'custom', message: parsed });
      return z.NEVER;
    }
    return parsed;
  });

export const AGGREGATOR_SETTINGS = {
  host: { env: 'NETMATRIX_LISTEN_HOST', flag: 'host', schema: setting.string('0.0.0.0'), help: 'address to listen on' },
  port: { env: 'NETMATRIX_LISTEN_PORT', flag: 'port', schema: setting.int(8080, 0, 65535), help: 'HTTP and WebSocket port' },
  token: {
    env: 'NETMATRIX_TOKEN',
    flag: 'token',
    schema: setting.string(),
    help: 'bearer token for agents and POST /api/runs',
    secret: true,
  },
  tlsCertFile: {
    env: 'NETMATRIX_TLS_CERT_FILE',
    flag: 'tls-cert-file',
    schema: setting.optionalString(),
    help: 'PEM certificate (chain): serve HTTPS and wss:// instead of HTTP (with --tls-key-file)',
  },
  tlsKeyFile: {
    env: 'NETMATRIX_TLS_KEY_FILE',
    flag: 'tls-key-file',
    schema: setting.optionalString(),
    help: 'PEM private key of that certificate',
    secret: true,
  },
  tlsReloadSeconds: {
    env: 'NETMATRIX_TLS_RELOAD_SECONDS',
    flag: 'tls-reload-seconds',
    schema: setting.int(60, 0, 86400),
    help: 'how often the certificate files are re-read; a changed valid pair is served to new connections (0 = never)',
  },
  agentAddressCheck: {
    env: 'NETMATRIX_AGENT_ADDRESS_CHECK',
    flag: 'agent-address-check',
    schema: z.enum(['pod', 'all', 'off']).default('pod'),
    help: 'whose hello must come from the IP it claims: pod agents, all (host agents too: breaks where host traffic is tunnelled or SNATed), off',
  },
  continuous: { env: 'NETMATRIX_CONTINUOUS', flag: 'continuous', schema: setting.bool(true), help: 'run the background sweep', bare: true },
  paths: {
    env: 'NETMATRIX_PATHS',
    flag: 'paths',
    schema: listOf(PathSchema, ['node', 'pod', 'service']),
    help: 'paths of the background sweep',
  },
  protocols: {
    env: 'NETMATRIX_PROTOCOLS',
    flag: 'protocols',
    schema: listOf(ProtocolSchema, ['tcp', 'udp']),
    help: 'protocols of the background sweep',
  },
  durationSeconds: {
    env: 'NETMATRIX_TEST_DURATION_SECONDS',
    flag: 'test-duration-seconds',
    schema: setting.int(throughputKind.defaults.durationSeconds, 1, throughputKind.maxDurationSeconds),
    help: 'length of one test',
  },
  tcpBitrate: {
    env: 'NETMATRIX_TCP_BITRATE_BITS_PER_SECOND',
    flag: 'tcp-bitrate-bits-per-second',
    schema: setting.int(0, 0, 1e13),
    help: 'TCP bitrate cap per test (0 = none)',
  },
  udpBitrate: {
    env: 'NETMATRIX_UDP_BITRATE_BITS_PER_SECOND',
    flag: 'udp-bitrate-bits-per-second',
    schema: setting.int(1_000_000_000, 1, 1e13),
    help: "UDP send rate per test (UDP has no congestion control: the sweep's is always capped); also on-demand runs' unless they ask for another",
  },
  streams: { env: 'NETMATRIX_STREAMS', flag: 'streams', schema: setting.int(1, 1, MAX_STREAMS), help: 'parallel streams per test' },
  concurrency: {
    env: 'NETMATRIX_CONCURRENCY',
    flag: 'concurrency',
    schema: setting.int(1, 1, 10000),
    help: 'most tests at once (pairs are always disjoint)',
  },
  pauseMs: {
    env: 'NETMATRIX_ROUND_PAUSE_MS',
    flag: 'round-pause-ms',
    schema: setting.int(1000, 0, 3_600_000),
    help: 'pause between rounds',
  },
  latencyRounds: {
    env: 'NETMATRIX_LATENCY_ROUNDS',
    flag: 'latency-rounds',
    schema: setting.int(2, 0, 100),
    help: 'background latency rounds (sockperf) after each throughput round; 0 = no latency tests',
  },
  latencyDurationSeconds: {
    env: 'NETMATRIX_LATENCY_DURATION_SECONDS',
    flag: 'latency-duration-seconds',
    schema: setting.int(latencyKind.defaults.durationSeconds, 1, latencyKind.maxDurationSeconds),
    help: 'length of one latency test (sockperf adds about 2 s of warm-up)',
  },
  latencyMessageSizeBytes: {
    env: 'NETMATRIX_LATENCY_MESSAGE_SIZE_BYTES',
    flag: 'latency-message-size-bytes',
    schema: setting.int(64, SOCKPERF_MIN_MESSAGE_BYTES, MAX_LATENCY_MESSAGE_BYTES),
    help: 'payload of each latency request and reply',
  },
  latencyMessagesPerSecond: {
    env: 'NETMATRIX_LATENCY_MESSAGES_PER_SECOND',
    flag: 'latency-messages-per-second',
    schema: setting.int(1000, 1, MAX_LATENCY_MESSAGES_PER_SECOND),
    help: 'request/response exchanges per second in a latency test (64 B at 1000/s is 0.5 Mbit/s each way)',
  },
  latencyConnectSamples: {
    env: 'NETMATRIX_LATENCY_CONNECT_SAMPLES',
    flag: 'latency-connect-samples',
    schema: setting.int(20, 0, MAX_LATENCY_CONNECT_SAMPLES),
    help: 'TCP latency tests: connections opened one after another first, to time connection setup (0 = none)',
  },
  coverage: {
    env: 'NETMATRIX_COVERAGE',
    flag: 'coverage',
    schema: z.enum(['full', 'budget', 'auto']).default('auto'),
    help: 'background sweep: full (every ordered pair), budget (pairs within a zone, reference peers, a rotating cross-zone sample), auto (full up to the node limit)',
  },
  coverageFullMaxNodes: {
    env: 'NETMATRIX_COVERAGE_FULL_MAX_NODES',
    flag: 'coverage-full-max-nodes',
    schema: setting.int(20, 2, 65535),
    help: 'auto coverage: full sweep up to this many nodes on a path, budget above',
  },
  referencePeers: {
    env: 'NETMATRIX_REFERENCE_PEERS',
    flag: 'reference-peers',
    schema: setting.int(3, 0, 64),
    help: 'budget coverage: fixed peers in other zones each node is measured against, both ways',
  },
  crossZonePeers: {
    env: 'NETMATRIX_CROSS_ZONE_PEERS',
    flag: 'cross-zone-peers',
    schema: setting.int(1, 0, 64),
    help: 'budget coverage: other-zone peers per node in each rotation of the cross-zone sample',
  },
  testsPerHour: {
    env: 'NETMATRIX_TESTS_PER_HOUR',
    flag: 'tests-per-hour',
    schema: setting.int(0, 0, 10_000_000),
    help: 'background tests started in any hour across the cluster, paced evenly (0 = unlimited)',
  },
  nodeBytesPerHour: {
    env: 'NETMATRIX_NODE_BYTES_PER_HOUR',
    flag: 'node-bytes-per-hour',
    schema: setting.int(0, 0, 1e15),
    help: 'bytes through any one node (sent + received) by background tests in any hour (0 = unlimited)',
  },
  assumedTcpBitsPerSecond: {
    env: 'NETMATRIX_ASSUMED_TCP_BITS_PER_SECOND',
    flag: 'assumed-tcp-bits-per-second',
    schema: setting.int(10_000_000_000, 1, 1e13),
    help: 'byte budget: what an uncapped TCP test is assumed to move per second until its result says',
  },
  quietHours: {
    env: 'NETMATRIX_QUIET_HOURS',
    flag: 'quiet-hours',
    schema: quietHours,
    help: 'HH:MM-HH:MM (UTC): no background tests in this daily window (on-demand runs still run)',
  },
  pauseJitterPercent: {
    env: 'NETMATRIX_ROUND_PAUSE_JITTER_PERCENT',
    flag: 'round-pause-jitter-percent',
    schema: setting.int(10, 0, 100),
    help: 'pauses between background rounds vary at random by up to this many percent either way',
  },
  busyNodeCpuPercent: {
    env: 'NETMATRIX_BUSY_NODE_CPU_PERCENT',
    flag: 'busy-node-cpu-percent',
    schema: setting.int(0, 0, 100),
    help: 'a node whose idle CPU before a test was above this (%) rests from background tests (0 = never)',
  },
  busyNodeNicBitsPerSecond: {
    env: 'NETMATRIX_BUSY_NODE_NIC_BITS_PER_SECOND',
    flag: 'busy-node-nic-bits-per-second',
    schema: setting.int(0, 0, 1e13),
    help: 'a node whose NIC carried more than this (bits/s, either way) just before a test rests from background tests (0 = never; host-network agents measure it)',
  },
  busyNodeRestSeconds: {
    env: 'NETMATRIX_BUSY_NODE_REST_SECONDS',
    flag: 'busy-node-rest-seconds',
    schema: setting.int(600, 1, 86400),
    help: 'how long a busy node rests from background tests',
  },
  readyTimeoutMs: {
    env: 'NETMATRIX_SERVER_READY_TIMEOUT_MS',
    flag: 'server-ready-timeout-ms',
    schema: setting.int(5000, 100, 60000),
    help: 'how long the target may take to listen',
  },
  resultTimeoutMarginMs: {
    env: 'NETMATRIX_RESULT_TIMEOUT_MARGIN_MS',
    flag: 'result-timeout-margin-ms',
    schema: setting.int(15000, 1000, 600000),
    help: 'slack over the test duration before a test is timed out',
  },
  resultsKept: {
    env: 'NETMATRIX_RESULTS_KEPT',
    flag: 'results-kept',
    schema: setting.int(2000, 10, 1_000_000),
    help: 'recent results kept in memory',
  },
  matrixMaxPairs: {
    env: 'NETMATRIX_MATRIX_MAX_PAIRS',
    flag: 'matrix-max-pairs',
    schema: setting.int(100_000, 100, 10_000_000),
    help: 'pairs the matrix keeps (each kind, path and protocol apart; about 1 KiB each); past it the least recently measured are forgotten',
  },
  perPairMetrics: {
    env: 'NETMATRIX_PER_PAIR_METRICS',
    flag: 'per-pair-metrics',
    schema: z.enum(['auto', 'always', 'never']).default('auto'),
    help: 'per-pair series: auto (up to the node limit), always, never',
  },
  perPairMaxNodes: {
    env: 'NETMATRIX_PER_PAIR_MAX_NODES',
    flag: 'per-pair-max-nodes',
    schema: setting.int(10, 0, 100000),
    help: 'auto mode: per-pair series only up to this many nodes',
  },
  services: {
    env: 'NETMATRIX_SERVICE_ADDRESSES',
    flag: 'service-addresses',
    schema: serviceMap,
    help: 'node=IP list of service addresses in front of pod agents (the lab)',
  },
  labStateFile: {
    env: 'NETMATRIX_LAB_STATE_FILE',
    flag: 'lab-state-file',
    schema: setting.string(LAB_STATE_FILE),
    help: "the lab's state file, read to detect its dataplane profile",
  },
  kubernetes: {
    env: 'NETMATRIX_KUBERNETES',
    flag: 'kubernetes',
    schema: z.enum(['auto', 'on', 'off']).default('auto'),
    help: 'use the Kubernetes API: auto (in a pod, or with a kubeconfig), on (fail without it), off',
  },
  kubeconfig: {
    env: 'NETMATRIX_KUBECONFIG',
    flag: 'kubeconfig',
    schema: setting.optionalString(),
    help: 'kubeconfig file, outside a cluster',
  },
  namespace: {
    env: 'NETMATRIX_NAMESPACE',
    flag: 'namespace',
    schema: setting.optionalString(),
    help: "namespace of the pod-to-service Services (default: the pod's own)",
  },
  instance: {
    env: 'NETMATRIX_INSTANCE',
    flag: 'instance',
    schema: setting.string('netmatrix').pipe(
      z
        .string()
        .max(63)
        .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a DNS label'),
    ),
    help: 'names and labels the Kubernetes objects this aggregator owns',
  },
  staleServiceGraceSeconds: {
    env: 'NETMATRIX_STALE_SERVICE_GRACE_SECONDS',
    flag: 'stale-service-grace-seconds',
    schema: setting.int(120, 0, 86400),
    help: 'how long Services found at start-up wait for their agent to return',
  },
  kubernetesResyncSeconds: {
    env: 'NETMATRIX_KUBERNETES_RESYNC_SECONDS',
    flag: 'kubernetes-resync-seconds',
    schema: setting.int(60, 1, 86400),
    help: 'how often the pod-to-service Services are checked against the connected agents',
  },
  idleSampleMs: {
    env: 'NETMATRIX_IDLE_SAMPLE_MS',
    flag: 'idle-sample-ms',
    schema: setting.int(1000, 0, 10000),
    help: 'idle CPU measured on every node before an on-demand run (0 = skip)',
  },
  heartbeatMs: {
    env: 'NETMATRIX_HEARTBEAT_MS',
    flag: 'heartbeat-ms',
    schema: setting.int(15000, 100, 600000),
    help: 'WebSocket ping interval; a missed pong drops the agent',
  },
  ...LOG_SETTINGS,
};

export type AggregatorConfig = SettingsOf<typeof AGGREGATOR_SETTINGS>;

export function loadAggregatorConfig(env: Record<string, string | undefined>, argv: readonly string[]): AggregatorConfig {
  return loadSettings(AGGREGATOR_SETTINGS, env, argv);
}

/** The scheduler's settings from the config, mapped once: the config's defaults are the scheduler's only defaults. */
export function schedulerSettings(c: AggregatorConfig): SchedulerSettings {
  return Object.freeze({
    continuous: c.continuous,
    paths: c.paths,
    protocols: c.protocols,
    durationSeconds: c.durationSeconds,
    tcpBitrate: c.tcpBitrate,
    udpBitrate: c.udpBitrate,
    streams: c.streams,
    concurrency: c.concurrency,
    pauseMs: c.pauseMs,
    latencyRounds: c.latencyRounds,
    latencyDurationSeconds: c.latencyDurationSeconds,
    latencyMessageSizeBytes: c.latencyMessageSizeBytes,
    latencyMessagesPerSecond: c.latencyMessagesPerSecond,
    latencyConnectSamples: c.latencyConnectSamples,
    coverage: c.coverage,
    coverageFullMaxNodes: c.coverageFullMaxNodes,
    referencePeers: c.referencePeers,
    crossZonePeers: c.crossZonePeers,
    testsPerHour: c.testsPerHour,
    nodeBytesPerHour: c.nodeBytesPerHour,
    assumedTcpBitsPerSecond: c.assumedTcpBitsPerSecond,
    quietHours: c.quietHours,
    pauseJitterPercent: c.pauseJitterPercent,
    busyNodeCpuPercent: c.busyNodeCpuPercent,
    busyNodeNicBitsPerSecond: c.busyNodeNicBitsPerSecond,
    busyNodeRestSeconds: c.busyNodeRestSeconds,
  });
}
