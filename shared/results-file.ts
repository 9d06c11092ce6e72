/**
 * The results file `netmatrix run` writes and `netmatrix compare` reads: one labelled run, its
 * spec, the environment it measured, every test, and per-pair summaries (median, min, max
 * over the repetitions) of each kind of test. Validated on read: a truncated or foreign file
 * is refused whole; files written before latency tests existed read as throughput-only.
 */
import { z } from 'zod';
import { EnvironmentSchema } from './environment.js';
import { PathSchema, ProtocolSchema, TestKindSchema } from './protocol.js';
import { TestResultSchema, type TestResult } from './result.js';
import { spread } from './stats.js';

export const RESULTS_FORMAT = 'netmatrix-results';
export const RESULTS_VERSION = 1;

const SpreadSchema = z.strictObject({ median: z.number(), min: z.number(), max: z.number() });

export const PairSummarySchema = z.strictObject({
  /** Files written before latency tests existed summarise throughput tests only. */
  kind: TestKindSchema.default('throughput'),
  path: PathSchema,
  protocol: ProtocolSchema,
  source: z.string(),
  target: z.string(),
  /** Tests of this pair in the run (ok or not). */
  samples: z.number().int().min(0),
  failures: z.number().int().min(0),
  /**
   * Throughput pairs only. Null for latency pairs: their server side reports no CPU, and the
   * client's is sockperf's busy-wait, not a cost of moving data.
   */
  throughputBitsPerSecond: SpreadSchema.nullable(),
  clientCpuBusyPercent: SpreadSchema.nullable(),
  serverCpuBusyPercent: SpreadSchema.nullable(),
  clientCpuSecondsPerGigabyte: SpreadSchema.nullable(),
  serverCpuSecondsPerGigabyte: SpreadSchema.nullable(),
  /** Latency pairs only: each test's median full round-trip time, µs. */
  rttP50Microseconds: SpreadSchema.nullable().default(null),
  /** Latency pairs only: each test's 99th percentile round-trip time, µs. */
  rttP99Microseconds: SpreadSchema.nullable().default(null),
  /**
   * UDP latency pairs only: each test's requests without a reply / requests sent, 0..1. Null
   * for TCP, which retransmits instead of dropping.
   */
  droppedRatio: SpreadSchema.nullable().default(null),
});
export type PairSummary = z.infer<typeof PairSummarySchema>;

export const RunSpecSchema = z.strictObject({
  /** Files written before latency tests existed hold throughput tests only. */
  kinds: z.array(TestKindSchema).min(1).default(['throughput']),
  paths: z.array(PathSchema).min(1),
  protocols: z.array(ProtocolSchema).min(1),
  durationSeconds: z.number().int().min(1),
  repeat: z.number().int().min(1),
  streams: z.number().int().min(1),
  /** Total over the streams, bits/s; 0 = unlimited (iperf3 `-b 0`). */
  tcpBitrateBitsPerSecond: z.number().int().min(0),
  /** Total over the streams, bits/s; 0 = unlimited (iperf3 `-b 0`, `netmatrix run --udp-bitrate max`). */
  udpBitrateBitsPerSecond: z.number().int().min(0),
  /**
   * iperf3 `-O`: seconds each throughput test ran before its `durationSeconds` and left out of
   * its figures. Files written before it read as 0: those runs omitted nothing.
   */
  omitSeconds: z.number().int().min(0).default(0),
});
export type RunSpec = z.infer<typeof RunSpecSchema>;

export const ResultsFileSchema = z.strictObject({
  format: z.literal(RESULTS_FORMAT),
  version: z.literal(RESULTS_VERSION),
  label: z.string().min(1),
  runId: z.string(),
  /** Where the run was made (aggregator URL, or "lab"). */
  source: z.string(),
  startedAt: z.iso.datetime(),
  endedAt: z.iso.datetime(),
  spec: RunSpecSchema,
  environment: EnvironmentSchema,
  results: z.array(TestResultSchema),
  pairs: z.array(PairSummarySchema),
});
export type ResultsFile = z.infer<typeof ResultsFileSchema>;

/**
 * Per kind of test, ordered pair, path and protocol: median, min and max over its successful
 * tests. A pair's throughput and latency tests are summarised apart.
 */
export function summarizePairs(results: readonly TestResult[]): PairSummary[] {
  const groups = new Map<string, TestResult[]>();
  for (const r of results) {
    const k = [r.kind, r.path, r.protocol, r.source.node, r.target.node].join('\u0000');
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return [...groups.values()].map((rs) => {
    const first = rs[0] as TestResult;
    const ok = rs.filter((r) => r.ok);
    const pick = (f: (r: TestResult) => number | null | undefined) =>
      spread(ok.map(f).filter((v): v is number => typeof v === 'number' && Number.isFinite(v)));
    const latency = first.kind === 'latency';
    const throughput = (f: (r: TestResult) => number | null | undefined) => (latency ? null : pick(f));
    const rtt = (f: (r: TestResult) => number | null | undefined) => (latency ? pick(f) : null);
    return {
      kind: first.kind,
      path: first.path,
      protocol: first.protocol,
      source: first.source.node,
      target: first.target.node,
      samples: rs.length,
      failures: rs.length - ok.length,
      throughputBitsPerSecond: throughput((r) => r.throughputBitsPerSecond),
      clientCpuBusyPercent: throughput((r) => r.source.cpu?.test.busyPercent),
      serverCpuBusyPercent: throughput((r) => r.target.cpu?.test.busyPercent),
      clientCpuSecondsPerGigabyte: throughput((r) => r.source.cpuSecondsPerGigabyte),
      serverCpuSecondsPerGigabyte: throughput((r) => r.target.cpuSecondsPerGigabyte),
      rttP50Microseconds: rtt((r) => r.latency?.rttMicroseconds.p50),
      rttP99Microseconds: rtt((r) => r.latency?.rttMicroseconds.p99),
      droppedRatio: latency && first.protocol === 'udp' ? pick(droppedRatio) : null,
    };
  });
}

/**
 * A latency test's requests that got no reply, as a share of those sent (0..1); null for
 * throughput tests, failed tests and TCP (a TCP connection retransmits, it does not drop).
 */
export function droppedRatio(r: TestResult): number | null {
  const l = r.latency;
  if (!l || r.protocol !== 'udp' || l.sentMessages === 0) return null;
  return l.droppedMessages / l.sentMessages;
}

/** Why a results file cannot be used: one line naming the file and the problem. */
export class ResultsFileError extends Error {
  override readonly name = 'ResultsFileError';
}

/** Parse the text of a results file; throws ResultsFileError naming `name` and the problem. */
export function parseResultsFile(name: string, text: string): ResultsFile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new ResultsFileError(`${name}: not JSON (truncated or not a netmatrix results file)`);
  }
  if (typeof data !== 'object' || data === null || (data as { format?: unknown }).format !== RESULTS_FORMAT) {
    throw new ResultsFileError(`${name}: not a netmatrix results file (no "format": "${RESULTS_FORMAT}")`);
  }
  const version = (data as { version?: unknown }).version;
  if (version !== RESULTS_VERSION) {
    throw new ResultsFileError(`${name}: results format version ${String(version)}, this netmatrix reads ${RESULTS_VERSION}`);
  }
  const parsed = ResultsFileSchema.safeParse(data);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new ResultsFileError(`${name}: invalid results file at ${i?.path.join('.') || '(top)'}: ${i?.message ?? 'unknown problem'}`);
  }
  return parsed.data;
}
