/**
 * The wire protocol between agent and aggregator: the single source of truth for every
 * WebSocket message. Every frame is parsed here once (`parseAgentMessage`,
 * `parseAggregatorMessage`); code past that point trusts the inferred types.
 *
 * The evolution rule, which keeps a rolling upgrade working (agents and the aggregator of
 * adjacent releases meet during every `helm upgrade`):
 * - Both ends refuse what they do not know (strict schemas: hostile input is refused at the
 *   boundary, never silently dropped). So every change to what crosses the wire, an optional
 *   field or a test kind included, bumps PROTOCOL_VERSION.
 * - A release speaks its own version and the previous one (SPOKEN_PROTOCOL_VERSIONS in
 *   shared/protocol-v1.ts, which translates both ways). The agent offers its newest version
 *   in its hello; an aggregator that does not speak it closes with protocolVersionMismatch and
 *   the agent offers the next. The welcome carries the version the connection speaks, and the
 *   aggregator sends each agent its version's shapes.
 * test/integration/mixed-version.test.ts runs the previous release against this one both ways.
 */
import { z } from 'zod';
import { IperfResultSchema } from './iperf3-result.js';
import { CpuReportSchema, CpuWindowSchema, ProcStatIdentitySchema } from './cpu.js';
import { ErrorCodeSchema } from './errors.js';
import { NicReportSchema } from './nic.js';
import { LatencyResultSchema } from './sockperf.js';
import { ProtocolSchema, type Protocol } from './kinds/common.js';
import { TestSpecSchema } from './kinds/index.js';
import { MAX_OMIT_SECONDS } from './kinds/throughput.js';

// The specs live with their kinds (shared/kinds); re-exported here, where the messages that carry them are.
export { ProtocolSchema, type Protocol } from './kinds/common.js';
export { TestKindSchema, TestSpecSchema, TEST_KINDS, type TestKind, type TestSpec } from './kinds/index.js';
export { MAX_OMIT_SECONDS, ThroughputSpecSchema, type ThroughputSpec } from './kinds/throughput.js';
export { LatencySpecSchema, type LatencySpec } from './kinds/latency.js';
export { latencyBitsPerSecond } from './sockperf.js';

/**
 * Version carried in `hello`; bump on any non-additive change. 2: one `serve`/`probe` pair
 * whose spec says its kind (`serve-latency`/`probe-latency` are gone, a throughput spec has
 * `kind: 'throughput'`).
 */
export const PROTOCOL_VERSION = 2;

/** Largest frame either side accepts, in bytes. A result with 1 s CPU samples of a 60 s test is ~30 KiB. */
export const MAX_FRAME_BYTES = 1024 * 1024;

/** WebSocket close codes used by netmatrix, named in one place. */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  /** Malformed, oversized, unknown or out-of-order message. */
  policyViolation: 1008,
  messageTooBig: 1009,
  /** Application range (4000-4999). */
  protocolVersionMismatch: 4000,
  duplicateAgent: 4001,
  shuttingDown: 4002,
} as const;

/** Which network the agent sits on: the node's own (hostNetwork) or a pod's. */
export const NetworkModeSchema = z.enum(['pod', 'host']);
export type NetworkMode = z.infer<typeof NetworkModeSchema>;

/** What traffic a test measures: node-to-node (host agents), pod-to-pod, pod-to-service. */
export const PathSchema = z.enum(['node', 'pod', 'service']);
export type Path = z.infer<typeof PathSchema>;
export const PATHS: readonly Path[] = PathSchema.options;

export const PROTOCOLS: readonly Protocol[] = ProtocolSchema.options;

const ipv4 = z.ipv4();
const id = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits and . _ : - only');
const name = z.string().min(1).max(253);
const port = z.number().int().min(1).max(65535);

/** Static facts about the node an agent runs on, read once at start. */
export const NodeFactsSchema = z.strictObject({
  cpuModel: z.string().max(256),
  cpuCores: z.number().int().min(1).max(4096),
  kernel: z.string().max(256),
  /**
   * Interface of the default route (or the first non-loopback one), and its MTU: for a host
   * agent the node's NIC, for a pod agent the pod's own interface (the pod network's MTU).
   */
  nic: z.string().max(64),
  mtu: z.number().int().min(0).max(65536),
  /**
   * One reading of the /proc/stat this agent sees, so that a pod agent's can be checked against
   * its node's host agent's (sameProcStat in shared/cpu.ts): inside LXCFS, gVisor or Kata it is
   * not the node's. Optional: agents before it did not send it.
   */
  procStat: ProcStatIdentitySchema.optional(),
  /**
   * net.ipv4.tcp_congestion_control in the agent's network namespace, e.g. "cubic" or "bbr".
   * Per namespace since Linux 4.15: a pod agent reports its pod's, a host agent the node's.
   * Optional: agents before it did not send it.
   */
  congestionControl: z
    .string()
    .regex(/^[\w.-]{1,64}$/)
    .optional(),
});
export type NodeFacts = z.infer<typeof NodeFactsSchema>;

/** Limits the agent enforces on every command, whatever the aggregator asks. */
export const AgentLimitsSchema = z.strictObject({
  maxDurationSeconds: z.number().int().min(1),
  /** 0 means no cap. Applies to the total over all streams. */
  maxBitrateBitsPerSecond: z.number().int().min(0),
  maxStreams: z.number().int().min(1),
  portMin: port,
  portMax: port,
  /** IPv4 CIDRs the agent may send test traffic to. */
  allowedTargetCidrs: z.array(z.string().max(64)).max(64),
  /**
   * How long past a test's run the agent lets its client run before killing it, ms (its connect
   * timeout plus a margin). The aggregator waits at least this long (plus a grace) for the agent's
   * own verdict, whatever its configured margin. Optional: agents of protocol 1 send it; agents
   * of protocol 2 do not, because both ends derive the deadlines from the spec
   * (shared/deadlines.ts) and the default agent deadline fits in the aggregator's margin.
   */
  deadlineSlackMs: z.number().int().min(0).max(600_000).optional(),
  /**
   * Longest iperf3 omit (`TestSpec.omitSeconds`) the agent runs, s. Optional: agents before it
   * did not send it, and drop the connection on a spec that has omitSeconds (their TestSpec is
   * strict), so the aggregator sends them none.
   */
  maxOmitSeconds: z.number().int().min(0).max(MAX_OMIT_SECONDS).optional(),
});
export type AgentLimits = z.infer<typeof AgentLimitsSchema>;

/** Who an agent is; sent in `hello`. */
export const AgentIdentitySchema = z.strictObject({
  nodeName: name,
  /** Pod name, or the process's own name outside Kubernetes. */
  podName: name,
  podIp: ipv4,
  hostIp: ipv4,
  mode: NetworkModeSchema,
  agentVersion: z.string().min(1).max(64),
  /** e.g. "3.12" */
  iperf3Version: z.string().min(1).max(64),
  /** Port the agent's iperf3 server listens on during a test (and its sockperf server, never at once). */
  iperf3Port: port,
  /** e.g. "3.7"; null or absent when the agent has no sockperf (it then takes no latency tests). */
  sockperfVersion: z.string().min(1).max(64).nullable().optional(),
  facts: NodeFactsSchema,
  limits: AgentLimitsSchema,
});
export type AgentIdentity = z.infer<typeof AgentIdentitySchema>;

// ---------------------------------------------------------------- aggregator -> agent

/** First message after a hello is accepted. */
export const WelcomeSchema = z.strictObject({
  type: z.literal('welcome'),
  protocolVersion: z.number().int(),
  /** The aggregator's id for this connection, for logs. */
  sessionId: id,
  /**
   * How often the aggregator pings, ms. The agent reconnects after three intervals without a
   * ping. Optional: aggregators before it did not send it (the agent then waits 45 s).
   */
  heartbeatMs: z.number().int().min(100).max(600_000).optional(),
});

/**
 * Start the server of one test on `bindAddress:port`, with the tool of `spec.kind`. The agent
 * answers `ready` once the port listens. A kind whose server exits after its test (iperf3
 * `-s -1`) then sends a `result` with role `server`; one whose server runs until cancelled
 * (sockperf) sends one only if it fails.
 */
export const ServeSchema = z.strictObject({
  type: z.literal('serve'),
  testId: id,
  bindAddress: ipv4,
  port,
  /** The client's spec: it says the kind, and lets the server bound its own lifetime. */
  spec: TestSpecSchema,
  /** Exit if no client connects within this many seconds. */
  idleTimeoutSeconds: z.number().int().min(1).max(600),
});

/** Run the client of one test (`iperf3 -c`, `sockperf ping-pong`) against `target:port` with `spec`; answer with a `result` of role `client`. */
export const ProbeSchema = z.strictObject({
  type: z.literal('probe'),
  testId: id,
  target: ipv4,
  port,
  spec: TestSpecSchema,
});

/** Stop the process of this test, if any. No result is owed for a cancelled test. */
export const CancelSchema = z.strictObject({
  type: z.literal('cancel'),
  testId: id,
  reason: z.string().max(256),
});

/** The aggregator has stored these results; the agent may forget them. */
export const AckSchema = z.strictObject({
  type: z.literal('ack'),
  resultIds: z.array(id).max(10_000),
});

/** Measure the node's CPU for `durationMs` now (the idle baseline before a run); answered by `cpu-sample`. */
export const SampleCpuSchema = z.strictObject({
  type: z.literal('sample-cpu'),
  requestId: id,
  durationMs: z.number().int().min(100).max(10_000),
});

export const AggregatorMessageSchema = z.discriminatedUnion('type', [
  WelcomeSchema,
  ServeSchema,
  ProbeSchema,
  CancelSchema,
  AckSchema,
  SampleCpuSchema,
]);
export type AggregatorMessage = z.infer<typeof AggregatorMessageSchema>;
export type ServeCommand = z.infer<typeof ServeSchema>;
export type ProbeCommand = z.infer<typeof ProbeSchema>;

// ---------------------------------------------------------------- agent -> aggregator

/** The first message of every connection. */
export const HelloSchema = z.strictObject({
  type: z.literal('hello'),
  protocolVersion: z.number().int(),
  agent: AgentIdentitySchema,
});

/** The server of `testId` is listening. */
export const ReadySchema = z.strictObject({
  type: z.literal('ready'),
  testId: id,
});

/**
 * The outcome of one side of a test. Sent until acknowledged (at least once); `resultId`
 * lets the aggregator keep it once.
 */
export const ResultSchema = z.strictObject({
  type: z.literal('result'),
  resultId: id,
  testId: id,
  role: z.enum(['client', 'server']),
  /** Wall-clock start and end of the measuring process (iperf3 or sockperf), ms since the epoch. */
  startedAtMs: z.number().int().min(0),
  endedAtMs: z.number().int().min(0),
  ok: z.boolean(),
  /** Present when !ok. */
  error: z
    .strictObject({
      code: ErrorCodeSchema,
      message: z.string().max(4096),
    })
    .optional(),
  /** iperf3's own report, when it produced one (a failed test may still have one). */
  iperf: IperfResultSchema.optional(),
  /** sockperf's report of a latency test's client (round-trip times). */
  latency: LatencyResultSchema.optional(),
  /** The node's CPU over the test window, from /proc/stat. */
  cpu: CpuReportSchema.optional(),
  /** The node NIC's traffic just before and during the test, from /proc/net/dev (host-network agents). */
  nic: NicReportSchema.optional(),
});
export type ResultMessage = z.infer<typeof ResultSchema>;

/** The answer to `sample-cpu`: the node's CPU over the requested window, or why there is none. */
export const CpuSampleSchema = z.strictObject({
  type: z.literal('cpu-sample'),
  requestId: id,
  window: CpuWindowSchema.nullable(),
  error: z.string().max(1024).optional(),
});
export type CpuSampleMessage = z.infer<typeof CpuSampleSchema>;

export const AgentMessageSchema = z.discriminatedUnion('type', [HelloSchema, ReadySchema, ResultSchema, CpuSampleSchema]);
export type AgentMessage = z.infer<typeof AgentMessageSchema>;

/** A frame that failed to parse: why, in words fit for a log and a close reason. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

function parseFrame<T>(schema: z.ZodType<T>, raw: string | Buffer, upgrade: (frame: unknown) => unknown = (f) => f): T {
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (size > MAX_FRAME_BYTES) throw new ProtocolError(`frame of ${size} bytes exceeds ${MAX_FRAME_BYTES}`);
  let data: unknown;
  try {
    data = JSON.parse(raw.toString());
  } catch {
    throw new ProtocolError('frame is not JSON');
  }
  const parsed = schema.safeParse(upgrade(data));
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first && first.path.length > 0 ? `${first.path.join('.')}: ` : '';
    throw new ProtocolError(`invalid message: ${where}${first?.message ?? 'unknown problem'}`);
  }
  return parsed.data;
}

/** Parse one frame from an agent. Throws ProtocolError. */
export function parseAgentMessage(raw: string | Buffer): AgentMessage {
  return parseFrame(AgentMessageSchema, raw);
}

/**
 * Parse one frame from the aggregator. Throws ProtocolError. `upgrade` rewrites the parsed JSON
 * of an older protocol version into this one's shape first (shared/protocol-v1.ts).
 */
export function parseAggregatorMessage(raw: string | Buffer, upgrade?: (frame: unknown) => unknown): AggregatorMessage {
  return parseFrame(AggregatorMessageSchema, raw, upgrade);
}
