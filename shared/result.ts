/**
 * One finished test as the aggregator records it: the client's report (iperf3's for a
 * throughput test, sockperf's for a latency test) joined with both sides' node CPU. This is
 * what `/api/results`, `/api/matrix` and results files carry.
 */
import { z } from 'zod';
import { CpuReportSchema, cpuSecondsPerGigabyte, measuredBusyCpuSeconds, type CpuReport } from './cpu.js';
import { ErrorCodeSchema } from './errors.js';
import { IperfResultSchema, type IperfResult } from './iperf3-result.js';
import { PathSchema, ProtocolSchema } from './protocol.js';
import { TestKindSchema, type TestSpec } from './kinds/index.js';
import { LatencySpecSchema } from './kinds/latency.js';
import { ThroughputSpecSchema } from './kinds/throughput.js';
import { NicReportSchema } from './nic.js';
import { LatencyResultSchema } from './sockperf.js';

/** A node's place in the cluster, from its well-known Kubernetes labels (null when unknown). */
export const TopologySchema = z.strictObject({
  zone: z.string().nullable(),
  region: z.string().nullable(),
  instanceType: z.string().nullable(),
});
export type Topology = z.infer<typeof TopologySchema>;

const SideSchema = z.strictObject({
  node: z.string(),
  pod: z.string(),
  /** Known only with the Kubernetes integration; results files written before it have none. */
  topology: TopologySchema.nullable().default(null),
  /** Node CPU over the test window (null when that side sent none). */
  cpu: CpuReportSchema.nullable(),
  /** Node busy CPU-seconds per 10^9 bytes moved; null without CPU or bytes. */
  cpuSecondsPerGigabyte: z.number().min(0).nullable(),
  /** The node NIC's traffic around the test; only host-network agents measure it, and results files written before it have none. */
  nic: NicReportSchema.nullable().default(null),
});

/** A throughput spec as results record it: `kind` left out (the result's own says it). */
const RecordedThroughputSpecSchema = ThroughputSpecSchema.extend({ kind: z.literal('throughput').optional() });

/** A spec as a result records it: a throughput spec without its `kind`, as results files always had it. */
export function recordedSpec(spec: TestSpec): TestResult['spec'] {
  if (spec.kind !== 'throughput') return spec;
  const { kind: _kind, ...recorded } = spec;
  return recorded;
}

export const TestResultSchema = z.strictObject({
  id: z.string(),
  /** The on-demand run this test belongs to; null for the background sweep. */
  runId: z.string().nullable(),
  label: z.string().nullable(),
  /** Results written before latency tests existed are all throughput tests. */
  kind: TestKindSchema.default('throughput'),
  path: PathSchema,
  protocol: ProtocolSchema,
  /**
   * The iperf3 spec of a throughput test, the sockperf spec of a latency test. Recorded as
   * results files have always had it (recordedSpec): a throughput spec without its `kind`,
   * which the result's own `kind` says; one with it is read too.
   */
  spec: z.union([RecordedThroughputSpecSchema, LatencySpecSchema]),
  /** The client side (iperf3 -c). */
  source: SideSchema,
  /** The server side (iperf3 -s), and the address the client dialled. */
  target: SideSchema.extend({ address: z.string(), port: z.number().int() }),
  startedAt: z.iso.datetime(),
  endedAt: z.iso.datetime(),
  ok: z.boolean(),
  error: z.strictObject({ code: ErrorCodeSchema, message: z.string() }).nullable(),
  /** Data rate at the receiver, bits/s (the headline figure); null for a failed test. */
  throughputBitsPerSecond: z.number().min(0).nullable(),
  /** The client's iperf3 report. */
  iperf: IperfResultSchema.nullable(),
  /** The server's own iperf3 report. */
  serverIperf: IperfResultSchema.nullable(),
  /** A latency test's round-trip times, from the client's sockperf; null for throughput tests and failures. */
  latency: LatencyResultSchema.nullable().default(null),
});
export type TestResult = z.infer<typeof TestResultSchema>;

/** Bytes the test moved, from the receiver's view when iperf3 gives it. */
export function bytesMoved(iperf: IperfResult | null): number {
  if (!iperf) return 0;
  return iperf.receivedBytes > 0 ? iperf.receivedBytes : iperf.sentBytes;
}

/**
 * A UDP test's jitter and loss as its receiver measured them: the server's own report of a
 * forward test, the client's of a -R test. The client of a forward test has the server's
 * figures second-hand, and with -O a loss that counts the omitted seconds (its parser leaves
 * that out), so it stands in only when the receiver's report is missing. Null for TCP, latency
 * tests and tests with no report.
 */
export function receiverUdp(r: Pick<TestResult, 'spec' | 'iperf' | 'serverIperf'>): NonNullable<IperfResult['udp']> | null {
  const reverse = 'reverse' in r.spec && r.spec.reverse;
  const [receiver, sender] = reverse ? [r.iperf, r.serverIperf] : [r.serverIperf, r.iperf];
  return receiver?.udp ?? sender?.udp ?? null;
}

/**
 * CPU-seconds per GB for one side of a test: the node's busy CPU over the interval iperf3
 * measured (when the side's report has it) against the bytes iperf3 counted over it.
 */
export function sideCost(cpu: CpuReport | null, iperf: IperfResult | null): number | null {
  return cpu ? cpuSecondsPerGigabyte(measuredBusyCpuSeconds(cpu), bytesMoved(iperf)) : null;
}
