/** The command line of `netmatrix compare`, parsed and validated as a pure function. */
import { basename, dirname, extname, join } from 'node:path';
import { DEFAULT_MARGIN, DEFAULT_REPLICATES, DEFAULT_SEED } from './effect.js';

export const COMPARE_USAGE = `usage: netmatrix compare BASELINE.json [OTHER.json ...] [--margin PCT] [--json FILE] [--report REPORT.html]

Compares results files of \`netmatrix run\`: every figure (throughput, UDP loss, marginal and total
node CPU, round trips) per kind, path and protocol, each run against the first, with the change,
its 95% confidence interval, a verdict (changed, equivalent, inconclusive) against a practical
margin and the smallest change the design could detect; and what differs between the runs
(cluster, kernels, MTUs, dataplane). Files with the same label are repeats of one configuration:
their difference is reported as drift.

  --margin PCT     practical margin of ratio figures in %, default 3 (a change within +-PCT is
                   too small to matter; loss figures use +-0.5 percentage points)
  --seed N         seed of the bootstrap, default 1 (the output is reproducible for any seed)
  --replicates N   bootstrap replicates, default 1000 (100..100000)
  --json FILE      also write the comparison as JSON (format netmatrix-compare, version 1)
  --report FILE    also write a self-contained HTML report with tables and charts
  --svg-dir DIR    write each chart as an SVG file into DIR
                   (default with --report: beside the report, <report name>-svg/)
  -h, --help       show this help

Exit codes: 0 compared (whatever the verdicts), 1 a results file is unusable or an output cannot be\nwritten, 2 usage.`;

export type CompareArgs =
  | { kind: 'help' }
  | { kind: 'usage-error'; message: string }
  | {
      kind: 'compare';
      files: string[];
      report: string | null;
      svgDir: string | null;
      json: string | null;
      /** Fraction: --margin 3 is 0.03. */
      margin: number;
      seed: number;
      replicates: number;
    };

const VALUE_FLAGS = ['--report', '--svg-dir', '--json', '--margin', '--seed', '--replicates'] as const;
type ValueFlag = (typeof VALUE_FLAGS)[number];

/** The SVG directory beside a report: `out/report.html` -> `out/report-svg`. */
export function defaultSvgDir(report: string): string {
  return join(dirname(report), `${basename(report, extname(report))}-svg`);
}

export function parseCompareArgs(args: readonly string[]): CompareArgs {
  const files: string[] = [];
  const values = new Map<ValueFlag, string>();
  let onlyFiles = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (onlyFiles || arg === '-' || !arg.startsWith('-')) {
      files.push(arg);
      continue;
    }
    if (arg === '--') {
      onlyFiles = true;
      continue;
    }
    if (arg === '--help' || arg === '-h') return { kind: 'help' };
    const eq = arg.indexOf('=');
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    if (!isValueFlag(flag)) return { kind: 'usage-error', message: `unknown flag ${flag}` };
    let value: string | undefined;
    if (eq >= 0) {
      value = arg.slice(eq + 1);
    } else {
      value = args[i + 1];
      i++;
    }
    if (value === undefined || value === '' || (eq < 0 && value.startsWith('--'))) {
      return { kind: 'usage-error', message: `${flag} needs a value` };
    }
    if (values.has(flag)) return { kind: 'usage-error', message: `${flag} given twice` };
    values.set(flag, value);
  }
  if (files.length === 0) return { kind: 'usage-error', message: 'no results files given' };
  const report = values.get('--report') ?? null;
  const svgDir = values.get('--svg-dir') ?? (report ? defaultSvgDir(report) : null);
  const margin = number(values.get('--margin'), DEFAULT_MARGIN * 100, '--margin', 0, 100, false);
  const seed = number(values.get('--seed'), DEFAULT_SEED, '--seed', 0, 2 ** 32 - 1, true);
  const replicates = number(values.get('--replicates'), DEFAULT_REPLICATES, '--replicates', 100, 100_000, true);
  for (const v of [margin, seed, replicates]) if (typeof v === 'string') return { kind: 'usage-error', message: v };
  return {
    kind: 'compare',
    files,
    report,
    svgDir,
    json: values.get('--json') ?? null,
    margin: (margin as number) / 100,
    seed: seed as number,
    replicates: replicates as number,
  };
}

/** A numeric flag's value, or the problem with it as a message. */
function number(text: string | undefined, fallback: number, flag: string, min: number, max: number, integer: boolean): number | string {
  if (text === undefined) return fallback;
  const n = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    return `${flag} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got "${text}"`;
  }
  return n;
}

function isValueFlag(s: string): s is ValueFlag {
  return (VALUE_FLAGS as readonly string[]).includes(s);
}
