/** The command line of `netmatrix compare`, parsed and validated as a pure function. */
import { basename, dirname, extname, join } from 'node:path';

export const COMPARE_USAGE = `usage: netmatrix compare BASELINE.json [OTHER.json ...] [--report REPORT.html] [--svg-dir DIR]

Compares results files of \`netmatrix run\`: throughput and node CPU per path and protocol, each
run against the first, and what differs between the runs (cluster, kernels, MTUs, dataplane).

  --report FILE    also write a self-contained HTML report with tables and charts
  --svg-dir DIR    write each chart as an SVG file into DIR
                   (default with --report: beside the report, <report name>-svg/)
  -h, --help       show this help

Exit codes: 0 compared, 1 a results file is unusable or an output cannot be written, 2 usage.`;

export type CompareArgs =
  | { kind: 'help' }
  | { kind: 'usage-error'; message: string }
  | { kind: 'compare'; files: string[]; report: string | null; svgDir: string | null };

const VALUE_FLAGS = ['--report', '--svg-dir'] as const;
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
  return { kind: 'compare', files, report, svgDir };
}

function isValueFlag(s: string): s is ValueFlag {
  return (VALUE_FLAGS as readonly string[]).includes(s);
}
