/**
 * The results file `netmatrix run` writes and `netmatrix compare` reads: one labelled run, its
 * spec, the environment it measured, every test, and per-pair summaries (median, min, max
 * over the repetitions). Validated on read: a truncated or foreign file is refused whole.
 */
import { z } from 'zod';
import { EnvironmentSchema } from './environment.js';
import { PathSchema, ProtocolSchema } from './protocol.js';
import { TestResultSchema, type TestResult } from './result.js';
import { spread } from './stats.js';

export const RESULTS_FORMAT = 'netmatrix-results';
export const RESULTS_VERSION = 1;

const SpreadSchema = z.strictObject({ median: z.number(), min: z.number(), max: z.number() });

export const PairSummarySchema = z.strictObject({
  path: PathSchema,
  protocol: ProtocolSchema,
  source: z.string(),
  target: z.string(),
  /** Tests of this pair in the run (ok or not). */
  samples: z.number().int().min(0),
  failures: z.number().int().min(0),
  throughputBitsPerSecond: SpreadSchema.nullable(),
  clientCpuBusyPercent: SpreadSchema.nullable(),
  serverCpuBusyPercent: SpreadSchema.nullable(),
  clientCpuSecondsPerGigabyte: SpreadSchema.nullable(),
  serverCpuSecondsPerGigabyte: SpreadSchema.nullable(),
});
export type PairSummary = z.infer<typeof PairSummarySchema>;

export const RunSpecSchema = z.strictObject({
  paths: z.array(PathSchema).min(1),
  protocols: z.array(ProtocolSchema).min(1),
  durationSeconds: z.number().int().min(1),
  repeat: z.number().int().min(1),
  streams: z.number().int().min(1),
  tcpBitrateBitsPerSecond: z.number().int().min(0),
  udpBitrateBitsPerSecond: z.number().int().min(0),
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

/** Per ordered pair, path and protocol: median, min and max over its successful tests. */
export function summarizePairs(results: readonly TestResult[]): PairSummary[] {
  const groups = new Map<string, TestResult[]>();
  for (const r of results) {
    const k = [r.path, r.protocol, r.source.node, r.target.node].join('\u0000');
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return [...groups.values()].map((rs) => {
    const first = rs[0] as TestResult;
    const ok = rs.filter((r) => r.ok);
    const pick = (f: (r: TestResult) => number | null | undefined) =>
      spread(ok.map(f).filter((v): v is number => typeof v === 'number' && Number.isFinite(v)));
    return {
      path: first.path,
      protocol: first.protocol,
      source: first.source.node,
      target: first.target.node,
      samples: rs.length,
      failures: rs.length - ok.length,
      throughputBitsPerSecond: pick((r) => r.throughputBitsPerSecond),
      clientCpuBusyPercent: pick((r) => r.source.cpu?.test.busyPercent),
      serverCpuBusyPercent: pick((r) => r.target.cpu?.test.busyPercent),
      clientCpuSecondsPerGigabyte: pick((r) => r.source.cpuSecondsPerGigabyte),
      serverCpuSecondsPerGigabyte: pick((r) => r.target.cpuSecondsPerGigabyte),
    };
  });
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
