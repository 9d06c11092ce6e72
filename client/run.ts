/**
 * `netmatrix run`: start an on-demand labelled run on an aggregator (throughput tests, latency
 * tests or both), show its progress, and write the results file (JSON, and CSV on request)
 * that `netmatrix compare` reads.
 */
import { rename, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { DEFAULT_RUN_OMIT_SECONDS, type RunRequest } from '../shared/api.js';
import { BITRATE_EXAMPLES, parseBitsPerSecond } from '../shared/bitrate.js';
import { MAX_OMIT_SECONDS, PathSchema, ProtocolSchema, TestKindSchema, type TestKind } from '../shared/protocol.js';
import {
  RESULTS_FORMAT,
  RESULTS_VERSION,
  ResultsFileSchema,
  summarizePairs,
  type ResultsFile,
  type RunSpec,
} from '../shared/results-file.js';
import { receiverUdp, type TestResult } from '../shared/result.js';
import { MAX_STREAMS, MAX_THROUGHPUT_DURATION_SECONDS } from '../shared/kinds/throughput.js';
import { median } from '../shared/stats.js';
import { loadSettings, setting, type SettingsOf } from '../shared/settings.js';
import { AggregatorClient, type RunWithResults } from './api-client.js';
import { formatRtt } from './compare/units.js';
import { resultsCsv } from './csv.js';
import { Progress } from './progress.js';

const optionalList = <T extends string>(schema: z.ZodType<T, string>) =>
  z
    .string()
    .optional()
    .transform((v) =>
      v === undefined
        ? undefined
        : v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
    )
    .pipe(z.array(schema).min(1, 'at least one value').optional())
    // A set, given as a list: "latency,latency" asks for latency once.
    .transform((v) => (v === undefined ? undefined : [...new Set(v)]));

/** The most a rate flag takes, bits/s: the bound of the aggregator's and the agents' bitrate settings. */
const MAX_BITS_PER_SECOND = 1e13;

/** `max` (0: unlimited, iperf3 -b 0) or a rate such as 2gbit; undefined when not given. */
const bitrateOrMax = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined) return undefined;
    if (v.trim().toLowerCase() === 'max') return 0;
    const bps = parseBitsPerSecond(v);
    if (bps === 0) {
      ctx.addIssue({ code: 'custom', message: 'a rate of 0 would be unlimited: write max for that' });
    } else if (bps === undefined || bps > MAX_BITS_PER_SECOND) {
      ctx.addIssue({ code: 'custom', message: `expected max (unlimited) or a rate up to 10tbit, such as ${BITRATE_EXAMPLES}` });
    } else {
      return bps;
    }
    return z.NEVER;
  });

export const RUN_SETTINGS = {
  aggregator: {
    env: 'NETMATRIX_AGGREGATOR',
    flag: 'aggregator',
    schema: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:8080'),
    help: "the aggregator's HTTP address",
  },
  token: { env: 'NETMATRIX_TOKEN', flag: 'token', schema: setting.optionalString(), help: 'bearer token for POST /api/runs', secret: true },
  label: {
    env: 'NETMATRIX_RUN_LABEL',
    flag: 'label',
    schema: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'letters, digits, dot, dash, underscore (e.g. iptables, ebpf-dsr)'),
    help: 'what this run measures, e.g. iptables or ebpf',
  },
  kinds: {
    env: 'NETMATRIX_RUN_KINDS',
    flag: 'kinds',
    schema: optionalList(TestKindSchema),
    help: 'throughput,latency: iperf3 tests, sockperf round-trip tests, or both (default throughput)',
  },
  paths: {
    env: 'NETMATRIX_RUN_PATHS',
    flag: 'paths',
    schema: optionalList(PathSchema),
    help: "node,pod,service (default: the aggregator's)",
  },
  protocols: {
    env: 'NETMATRIX_RUN_PROTOCOLS',
    flag: 'protocols',
    schema: optionalList(ProtocolSchema),
    help: "tcp,udp (default: the aggregator's)",
  },
  duration: {
    env: 'NETMATRIX_RUN_DURATION_SECONDS',
    flag: 'duration',
    schema: z.coerce.number().int().min(1).max(MAX_THROUGHPUT_DURATION_SECONDS).optional(),
    help: "seconds per throughput test (latency tests take the aggregator's)",
  },
  repeat: {
    env: 'NETMATRIX_RUN_REPEAT',
    flag: 'repeat',
    schema: setting.int(1, 1, 100),
    help: 'measure each pair K times (median, min, max)',
  },
  streams: {
    env: 'NETMATRIX_RUN_STREAMS',
    flag: 'streams',
    schema: z.coerce.number().int().min(1).max(MAX_STREAMS).optional(),
    help: 'parallel streams per test',
  },
  udpBitrate: {
    env: 'NETMATRIX_RUN_UDP_BITRATE',
    flag: 'udp-bitrate',
    schema: bitrateOrMax,
    help: "UDP send rate per test: max (unlimited, iperf3 -b 0; agents with a bitrate cap refuse it) or a rate such as 2gbit or 500m (default: the aggregator's cap)",
  },
  omit: {
    env: 'NETMATRIX_RUN_OMIT_SECONDS',
    flag: 'omit',
    schema: z
      .string()
      .regex(/^\d{1,2}$/, `whole seconds from 0 to ${MAX_OMIT_SECONDS}`)
      .transform(Number)
      .pipe(z.number().max(MAX_OMIT_SECONDS, `whole seconds from 0 to ${MAX_OMIT_SECONDS}`))
      .optional(),
    help: `seconds each throughput test runs first and leaves out of its figures (iperf3 -O; default ${DEFAULT_RUN_OMIT_SECONDS})`,
  },
  out: { env: 'NETMATRIX_RUN_OUT', flag: 'out', schema: setting.string(), help: 'results file to write (JSON)' },
  csv: { env: 'NETMATRIX_RUN_CSV', flag: 'csv', schema: setting.optionalString(), help: 'also write one CSV row per test here' },
  pollMs: { env: 'NETMATRIX_RUN_POLL_MS', flag: 'poll-ms', schema: setting.int(500, 50, 60_000), help: 'progress polling interval' },
};
export type RunOptions = SettingsOf<typeof RUN_SETTINGS>;

export interface RunIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  tty: boolean;
  sleep?: (ms: number) => Promise<void>;
}

export function parseRunArgs(env: Record<string, string | undefined>, args: readonly string[]): RunOptions {
  return loadSettings(RUN_SETTINGS, env, args);
}

/** The results file of a finished run; validated so compare can always read what run wrote. */
export function toResultsFile(run: RunWithResults, source: string): ResultsFile {
  if (!run.environment) throw new Error(`run ${run.id} has no environment (the aggregator did not capture it)`);
  return ResultsFileSchema.parse({
    format: RESULTS_FORMAT,
    version: RESULTS_VERSION,
    label: run.label,
    runId: run.id,
    source,
    startedAt: run.startedAt ?? run.createdAt,
    endedAt: run.endedAt ?? new Date().toISOString(),
    spec: run.spec,
    environment: run.environment,
    results: run.results,
    pairs: summarizePairs(run.results),
  });
}

/**
 * One line per kind, path and protocol: median throughput, or median p50 and p99 round trip,
 * and failures.
 */
export function summaryLines(file: ResultsFile): string[] {
  const lines: string[] = [];
  for (const kind of file.spec.kinds) {
    for (const path of file.spec.paths) {
      for (const protocol of file.spec.protocols) {
        const rs = file.results.filter((r) => r.kind === kind && r.path === path && r.protocol === protocol);
        const head = `  ${path.padEnd(8)}${protocol.padEnd(5)}`;
        lines.push(head + (kind === 'latency' ? latencySummary(rs) : throughputSummary(rs)));
      }
    }
  }
  return lines;
}

function failedSuffix(failed: number): string {
  return failed ? `, ${failed} failed` : '';
}

function throughputSummary(rs: readonly TestResult[]): string {
  const ok = rs.flatMap((r) => (r.ok && r.throughputBitsPerSecond !== null ? [r.throughputBitsPerSecond] : []));
  const m = median(ok);
  const figure = m === undefined ? '       -' : `${(m / 1e9).toFixed(2).padStart(8)} Gbit/s`;
  // UDP's throughput is what arrived; the loss says what the sender pushed beyond it.
  const loss = median(rs.flatMap((r) => (r.ok && receiverUdp(r) ? [(receiverUdp(r)?.lossRatio ?? 0) * 100] : [])));
  const lossText = loss === undefined ? '' : `, loss ${loss.toFixed(2)}%`;
  return `${figure} median of ${ok.length}${lossText}${failedSuffix(rs.length - ok.length)}`;
}

/** Longest reason shown per line; the results file has every reason whole. */
const MAX_REASON_CHARS = 200;

/**
 * Why tests failed: one line per reason (code and message), the most frequent first, with one
 * of its tests; at most `maxLines`, then how many reasons are left out. Empty when none failed.
 */
export function failureLines(results: readonly TestResult[], maxLines = 5): string[] {
  const reasons = new Map<string, { code: string; message: string; tests: TestResult[] }>();
  for (const r of results) {
    if (r.ok || !r.error) continue;
    const key = `${r.error.code}\u0000${r.error.message}`;
    const reason = reasons.get(key) ?? reasons.set(key, { ...r.error, tests: [] }).get(key);
    reason?.tests.push(r);
  }
  const sorted = [...reasons.values()].sort((a, b) => b.tests.length - a.tests.length);
  const lines = sorted.slice(0, maxLines).map(({ code, message, tests }) => {
    const t = tests[0] as TestResult;
    const text = message.length > MAX_REASON_CHARS ? `${message.slice(0, MAX_REASON_CHARS)}…` : message;
    const others = tests.length > 1 ? ` and ${tests.length - 1} more` : '';
    return `  ${tests.length} x ${code}: ${text} (${t.kind} ${t.path} ${t.protocol} ${t.source.node} -> ${t.target.node}${others})`;
  });
  if (sorted.length > maxLines) lines.push(`  and ${sorted.length - maxLines} more reasons (every test's is in the results file)`);
  return lines.length > 0 ? ['failed tests, by reason:', ...lines] : [];
}

function latencySummary(rs: readonly TestResult[]): string {
  // The aggregator plans latency tests only between agents that have sockperf.
  if (rs.length === 0) return 'latency: no tests (no two agents with sockperf?)';
  const ok = rs.flatMap((r) => (r.ok && r.latency ? [r.latency.rttMicroseconds] : []));
  const p50 = formatRtt(median(ok.map((t) => t.p50))).padStart(8);
  const p99 = formatRtt(median(ok.map((t) => t.p99))).padStart(8);
  return `round trip p50 ${p50}, p99 ${p99}  medians of ${ok.length}${failedSuffix(rs.length - ok.length)}`;
}

/**
 * What the run measures, for its first line: "throughput (10 s tests after 1 s omitted, UDP at
 * 1.00 Gbit/s) and latency". An aggregator from before omitted seconds sends no omitSeconds.
 */
function kindsText(kinds: readonly TestKind[], spec: RunSpec): string {
  const omit = spec.omitSeconds > 0 ? ` after ${spec.omitSeconds} s omitted` : '';
  const rate = spec.udpBitrateBitsPerSecond;
  const udp = spec.protocols.includes('udp') ? `, UDP ${rate === 0 ? 'unlimited' : `at ${(rate / 1e9).toFixed(2)} Gbit/s`}` : '';
  return kinds.map((k) => (k === 'throughput' ? `throughput (${spec.durationSeconds} s tests${omit}${udp})` : k)).join(' and ');
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}

/** Start a run on `o.aggregator`, follow it, write the files. Returns the exit code. */
export async function runOnAggregator(o: RunOptions, io: RunIo, token = o.token): Promise<number> {
  const client = new AggregatorClient(o.aggregator, token);
  const sleep = io.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const req: RunRequest = {
    label: o.label,
    repeat: o.repeat,
    // Only when asked: an aggregator from before latency tests refuses the field.
    ...(o.kinds ? { kinds: o.kinds } : {}),
    ...(o.paths ? { paths: o.paths } : {}),
    ...(o.protocols ? { protocols: o.protocols } : {}),
    ...(o.duration ? { durationSeconds: o.duration } : {}),
    ...(o.streams ? { streams: o.streams } : {}),
    // 0 is a value here (unlimited, no omit): test for absence, not for truth.
    ...(o.udpBitrate !== undefined ? { udpBitrateBitsPerSecond: o.udpBitrate } : {}),
    ...(o.omit !== undefined ? { omitSeconds: o.omit } : {}),
  };
  const started = await client.startRun(req);
  const matrix = `${started.spec.paths.join(',')} x ${started.spec.protocols.join(',')}`;
  const kinds = kindsText(o.kinds ?? ['throughput'], started.spec);
  io.stderr(`run ${started.id} "${o.label}": ${matrix}, ${kinds}, repeat ${started.spec.repeat}\n`);
  const t0 = Date.now();
  const progress = new Progress(io.stderr, io.tty);
  let run: RunWithResults;
  for (;;) {
    run = await client.run(started.id);
    if (run.status !== 'queued') progress.update(run, Date.now() - t0);
    if (run.status === 'done') break;
    await sleep(o.pollMs);
  }
  progress.end();
  const file = toResultsFile(run, o.aggregator);
  await writeAtomically(o.out, `${JSON.stringify(file, null, 1)}\n`);
  if (o.csv) await writeAtomically(o.csv, resultsCsv(file.results));
  io.stdout(
    `${file.label}: ${file.results.length} tests, ${run.failed} failed, ${file.environment.nodes.length} nodes, dataplane ${file.environment.dataplane.kind} ${JSON.stringify(file.environment.dataplane.settings)}\n`,
  );
  io.stdout(`${[...summaryLines(file), ...failureLines(file.results)].join('\n')}\n`);
  io.stdout(`wrote ${o.out}${o.csv ? ` and ${o.csv}` : ''}\n`);
  return run.failed > 0 && run.failed === run.total ? 1 : 0;
}
