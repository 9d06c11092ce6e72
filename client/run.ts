/**
 * `netmatrix run`: start an on-demand labelled run on an aggregator, show its progress, and
 * write the results file (JSON, and CSV on request) that `netmatrix compare` reads.
 */
import { rename, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import type { RunRequest } from '../shared/api.js';
import { PathSchema, ProtocolSchema } from '../shared/protocol.js';
import { RESULTS_FORMAT, RESULTS_VERSION, ResultsFileSchema, summarizePairs, type ResultsFile } from '../shared/results-file.js';
import { median } from '../shared/stats.js';
import { loadSettings, setting, type SettingsOf } from '../shared/settings.js';
import { AggregatorClient, type RunWithResults } from './api-client.js';
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
    .pipe(z.array(schema).min(1, 'at least one value').optional());

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
    schema: z.coerce.number().int().min(1).max(3600).optional(),
    help: 'seconds per test',
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
    schema: z.coerce.number().int().min(1).max(128).optional(),
    help: 'parallel streams per test',
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

/** One line per path and protocol: median throughput and failures. */
export function summaryLines(file: ResultsFile): string[] {
  const lines: string[] = [];
  for (const path of file.spec.paths) {
    for (const protocol of file.spec.protocols) {
      const rs = file.results.filter((r) => r.path === path && r.protocol === protocol);
      const ok = rs.flatMap((r) => (r.ok && r.throughputBitsPerSecond !== null ? [r.throughputBitsPerSecond] : []));
      const m = median(ok);
      const failed = rs.length - ok.length;
      lines.push(
        `  ${path.padEnd(8)}${protocol.padEnd(5)}${m === undefined ? '       -' : `${(m / 1e9).toFixed(2).padStart(8)} Gbit/s`} median of ${ok.length}${failed ? `, ${failed} failed` : ''}`,
      );
    }
  }
  return lines;
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
    ...(o.paths ? { paths: o.paths } : {}),
    ...(o.protocols ? { protocols: o.protocols } : {}),
    ...(o.duration ? { durationSeconds: o.duration } : {}),
    ...(o.streams ? { streams: o.streams } : {}),
  };
  const started = await client.startRun(req);
  io.stderr(
    `run ${started.id} "${o.label}": ${started.spec.paths.join(',')} x ${started.spec.protocols.join(',')}, ${started.spec.durationSeconds} s tests, repeat ${started.spec.repeat}\n`,
  );
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
  io.stdout(`${summaryLines(file).join('\n')}\n`);
  io.stdout(`wrote ${o.out}${o.csv ? ` and ${o.csv}` : ''}\n`);
  return run.failed > 0 && run.failed === run.total ? 1 : 0;
}
