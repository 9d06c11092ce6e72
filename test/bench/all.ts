/**
 * `npm run bench`: every benchmark, one after another, each as its own process (so that one's
 * memory, CPU and open files are never another's figures), then one table of every figure
 * against its bound. Each bench prints its own report as it goes; the table at the end is built
 * from the rows each writes with `--json FILE` (summary.ts). A bench that cannot write them yet
 * shows only its exit status.
 *
 * A benchmark, not a test: a MISS does not fail it. It exits 1 only when a bench did not exit 0
 * (it could not measure, or, for bench:soak, a bound broke), and is not part of CI (CI
 * smoke-runs each bench on its own). The lab benches need root and the lab; run it under the
 * locks the lab tests take:
 *
 *   flock /tmp/netmatrix-lab.lock flock /tmp/netmatrix-bench.lock npm run bench -- [--only overhead,scheduler,load,soak] [--smoke]
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { readSummary, textTable, verdict, type SummaryRow } from './summary.js';

interface Bench {
  name: string;
  /** Beside this file. */
  script: string;
  args: string[];
  /** Whether it takes `--json FILE` (a bench without it would reject the flag). */
  json: boolean;
}

const BENCHES: readonly Bench[] = [
  { name: 'overhead', script: 'overhead.ts', args: ['--paths', 'node,pod,service', '--protocols', 'tcp,udp'], json: true },
  { name: 'scheduler', script: 'scheduler-sim.ts', args: [], json: true },
  { name: 'load', script: 'load.ts', args: [], json: true },
  { name: 'soak', script: 'soak.ts', args: [], json: true },
];

const USAGE = `usage: npm run bench -- [--only ${BENCHES.map((b) => b.name).join(',')}] [--smoke]
  --only   the benches to run, in this order (default: all)
  --smoke  each bench at its tiny size (its own --smoke), to check they all still run`;

interface Outcome {
  bench: Bench;
  /** The exit code, or the signal that ended it. */
  exit: number | NodeJS.Signals;
  seconds: number;
  rows: SummaryRow[];
  /** Why there are no rows although the bench writes them. */
  summaryProblem?: string;
}

function parseOptions(argv: string[]): { benches: Bench[]; smoke: boolean } | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      only: { type: 'string' },
      smoke: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  if (values.only === undefined) return { benches: [...BENCHES], smoke: values.smoke };
  const names = values.only
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !BENCHES.some((b) => b.name === n));
  if (names.length === 0 || unknown.length > 0)
    throw new Error(`--only takes a comma-separated list of ${BENCHES.map((b) => b.name).join(', ')}; got "${values.only}"`);
  return { benches: BENCHES.filter((b) => names.includes(b.name)), smoke: values.smoke };
}

/** Run one bench to its end with this terminal as its stdout and stderr. */
async function run(b: Bench, smoke: boolean, dir: string): Promise<Outcome> {
  const file = join(dir, `${b.name}.json`);
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const script = fileURLToPath(new URL(b.script, import.meta.url));
  const argv = ['--import', tsx, script, ...b.args, ...(smoke ? ['--smoke'] : []), ...(b.json ? ['--json', file] : [])];
  console.error(`\nbench: ${b.name}: ${[b.script, ...argv.slice(3)].join(' ')}`);
  const began = performance.now();
  const child = spawn(process.execPath, argv, { stdio: 'inherit' });
  const exit = await new Promise<number | NodeJS.Signals>((resolve) => {
    child.once('error', () => resolve(127));
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 1));
  });
  const outcome: Outcome = { bench: b, exit, seconds: (performance.now() - began) / 1000, rows: [] };
  if (!b.json) return outcome;
  if (!existsSync(file)) outcome.summaryProblem = 'wrote no summary';
  else {
    try {
      outcome.rows = readSummary(file);
    } catch (e) {
      outcome.summaryProblem = e instanceof Error ? e.message : String(e);
    }
  }
  return outcome;
}

/** One table: every bench's figures, and a row for how each bench ended. */
function combined(outcomes: readonly Outcome[], smoke: boolean): string[] {
  const rows = outcomes.flatMap((o) => {
    const minutes = `${(o.seconds / 60).toFixed(1)} min`;
    const status: SummaryRow = {
      bench: o.bench.name,
      figure: o.bench.json ? 'exit status' : 'exit status (it writes no summary yet)',
      value: `${o.exit} (${minutes})`,
      bound: '= 0',
      pass: o.exit === 0,
    };
    const problem: SummaryRow[] = o.summaryProblem
      ? [{ bench: o.bench.name, figure: 'summary', value: o.summaryProblem, bound: 'written', pass: false }]
      : [];
    return [...o.rows, ...problem, status];
  });
  const misses = rows.filter((r) => r.pass === false).length;
  return [
    '',
    `npm run bench${smoke ? ' -- --smoke (tiny sizes: the figures only show that each bench runs)' : ''}: ${rows.length} rows, ${misses} MISS`,
    ...textTable(
      ['bench', 'figure', 'value', 'bound', ''],
      rows.map((r) => [r.bench, r.figure, r.value, r.bound, verdict(r.pass)]),
    ),
  ];
}

async function main(): Promise<number> {
  let o: ReturnType<typeof parseOptions>;
  try {
    o = parseOptions(process.argv.slice(2));
  } catch (e) {
    console.error(`bench: ${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    return 2;
  }
  if (o === 'help') {
    console.log(USAGE);
    return 0;
  }
  // A Ctrl-C reaches the running bench too (same process group); it tears down and exits, and
  // then the next must not start.
  let interrupted = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => (interrupted = true));

  const dir = mkdtempSync(join(tmpdir(), 'netmatrix-bench-'));
  const outcomes: Outcome[] = [];
  try {
    for (const b of o.benches) {
      if (interrupted) break;
      outcomes.push(await run(b, o.smoke, dir));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(combined(outcomes, o.smoke).join('\n'));
  if (interrupted) return 130;
  return outcomes.every((x) => x.exit === 0) ? 0 : 1;
}

process.exitCode = await main();
