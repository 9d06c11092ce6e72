/**
 * The agent's configuration: environment and flags -> one frozen object. Nothing else in the
 * agent reads process.env.
 */
import { z } from 'zod';
import { isValidCidr } from '../shared/limits.js';
import { DEFAULT_AGENT_CONNECT_TIMEOUT_MS } from '../shared/deadlines.js';
import { MAX_DURATION_SECONDS } from '../shared/kinds/index.js';
import { MAX_STREAMS } from '../shared/kinds/throughput.js';
import { LOG_SETTINGS, loadSettings, setting, type SettingsOf } from '../shared/settings.js';

const ip = z.ipv4().optional();

export const AGENT_SETTINGS = {
  aggregatorUrl: {
    env: 'NETMATRIX_AGGREGATOR_URL',
    flag: 'aggregator',
    schema: z.url({ protocol: /^wss?$/ }).default('ws://127.0.0.1:8080/ws/agent'),
    help: "aggregator's agent endpoint (ws:// or wss://)",
  },
  token: { env: 'NETMATRIX_TOKEN', flag: 'token', schema: setting.string(), help: 'bearer token shared with the aggregator', secret: true },
  nodeName: {
    env: 'NETMATRIX_NODE_NAME',
    flag: 'node-name',
    schema: setting.optionalString(),
    help: 'Kubernetes node name (default: hostname)',
  },
  podName: { env: 'NETMATRIX_POD_NAME', flag: 'pod-name', schema: setting.optionalString(), help: 'pod name (default: hostname)' },
  podIp: { env: 'NETMATRIX_POD_IP', flag: 'pod-ip', schema: ip, help: "this agent's IP (default: the default route's interface address)" },
  hostIp: { env: 'NETMATRIX_HOST_IP', flag: 'host-ip', schema: ip, help: "the node's IP (default: pod IP)" },
  mode: { env: 'NETMATRIX_NETWORK_MODE', flag: 'mode', schema: z.enum(['pod', 'host']).default('pod'), help: 'pod or host (hostNetwork)' },
  iperf3Port: {
    env: 'NETMATRIX_IPERF3_PORT',
    flag: 'iperf3-port',
    schema: setting.int(5201, 1, 65535),
    help: 'port of the iperf3 server during a test',
  },
  iperf3Binary: { env: 'NETMATRIX_IPERF3_BINARY', flag: 'iperf3-binary', schema: setting.string('iperf3'), help: 'iperf3 executable' },
  sockperfBinary: {
    env: 'NETMATRIX_SOCKPERF_BINARY',
    flag: 'sockperf-binary',
    schema: setting.string('sockperf'),
    help: 'sockperf executable, for latency tests (without it the agent takes none)',
  },
  maxDurationSeconds: {
    env: 'NETMATRIX_MAX_TEST_DURATION_SECONDS',
    flag: 'max-test-duration-seconds',
    schema: setting.int(120, 1, MAX_DURATION_SECONDS),
    help: 'refuse longer tests (omitted seconds count)',
  },
  maxBitrate: {
    env: 'NETMATRIX_MAX_BITRATE_BITS_PER_SECOND',
    flag: 'max-bitrate-bits-per-second',
    schema: setting.int(0, 0, 1e13),
    help: 'refuse tests above this total bitrate (0 = no cap; a cap also refuses unlimited tests)',
  },
  maxStreams: {
    env: 'NETMATRIX_MAX_STREAMS',
    flag: 'max-streams',
    schema: setting.int(16, 1, MAX_STREAMS),
    help: 'refuse tests with more parallel streams',
  },
  portMin: {
    env: 'NETMATRIX_PORT_MIN',
    flag: 'port-min',
    schema: setting.int(5201, 1, 65535),
    help: 'lowest iperf3 port the agent accepts',
  },
  portMax: {
    env: 'NETMATRIX_PORT_MAX',
    flag: 'port-max',
    schema: setting.int(5299, 1, 65535),
    help: 'highest iperf3 port the agent accepts',
  },
  allowedTargets: {
    env: 'NETMATRIX_ALLOWED_TARGET_CIDRS',
    flag: 'allowed-target-cidrs',
    schema: setting
      .list(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '198.18.0.0/15'])
      .refine((l) => l.length > 0 && l.every(isValidCidr), 'a comma-separated list of IPv4 CIDRs'),
    help: 'IPv4 ranges the agent may send test traffic to',
  },
  connectTimeoutMs: {
    env: 'NETMATRIX_CONNECT_TIMEOUT_MS',
    flag: 'connect-timeout-ms',
    schema: setting.int(DEFAULT_AGENT_CONNECT_TIMEOUT_MS, 100, 60000),
    help: 'iperf3 --connect-timeout',
  },
  nic: {
    env: 'NETMATRIX_NIC',
    flag: 'nic',
    schema: z
      .string()
      .regex(/^[A-Za-z0-9_.:@-]{1,64}$/, 'an interface name, or none')
      .optional(),
    help: "interface whose traffic just before and during each test is reported (default: a host-network agent's default route's, a pod agent's none; none = off)",
  },
  healthPort: {
    env: 'NETMATRIX_HEALTH_PORT',
    flag: 'health-port',
    schema: setting.int(0, 0, 65535),
    help: 'serve /healthz and /readyz (connected to the aggregator) on this port (0 = off)',
  },
  ...LOG_SETTINGS,
};

export type AgentConfig = SettingsOf<typeof AGENT_SETTINGS>;

export function loadAgentConfig(env: Record<string, string | undefined>, argv: readonly string[]): AgentConfig {
  return loadSettings(AGENT_SETTINGS, env, argv);
}
