/**
 * `netmatrix compare`: parses the arguments and wires load -> compare -> table/charts/html/json.
 * No arithmetic or formatting lives here.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { COMPARE_USAGE, parseCompareArgs } from './args.js';
import { renderCharts, type RenderedChart } from './charts.js';
import { compareRuns } from './compare.js';
import { renderHtml } from './html.js';
import { comparisonJson } from './json.js';
import { loadResultsFiles } from './load.js';
import { renderComparisonText } from './table.js';

/**
 * Where compare writes, like process.stdout.write: each call is one or more complete lines,
 * newline included. Tables go to stdout; diagnostics and "wrote ..." to stderr.
 */
export interface CompareOutput {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

/**
 * Run `netmatrix compare` with `args` (the words after "compare"). Returns the exit code:
 * 0 compared; 1 a results file is unusable (one line per file, and no table at all) or an
 * output could not be written; 2 a usage error.
 */
export async function runCompare(args: string[], out: CompareOutput): Promise<number> {
  const parsed = parseCompareArgs(args);
  if (parsed.kind === 'help') {
    out.stdout(`${COMPARE_USAGE}\n`);
    return 0;
  }
  if (parsed.kind === 'usage-error') {
    out.stderr(`netmatrix compare: ${parsed.message}\n${COMPARE_USAGE}\n`);
    return 2;
  }
  const loaded = await loadResultsFiles(parsed.files);
  if (!loaded.ok) {
    for (const line of loaded.errors) out.stderr(`${line}\n`);
    return 1;
  }
  const comparison = compareRuns(loaded.runs, { margin: parsed.margin, seed: parsed.seed, replicates: parsed.replicates });
  const wantCharts = parsed.report !== null || parsed.svgDir !== null;
  const charts = wantCharts ? await renderCharts(comparison) : [];
  out.stdout(`${renderComparisonText(comparison)}\n`);

  try {
    if (parsed.svgDir !== null) {
      await writeCharts(parsed.svgDir, charts);
      out.stderr(`wrote ${charts.length} charts to ${parsed.svgDir}\n`);
    }
    if (parsed.json !== null) {
      await mkdir(dirname(parsed.json), { recursive: true });
      await writeFile(parsed.json, `${JSON.stringify(comparisonJson(comparison), null, 2)}\n`);
      out.stderr(`wrote ${parsed.json}\n`);
    }
    if (parsed.report !== null) {
      await mkdir(dirname(parsed.report), { recursive: true });
      await writeFile(parsed.report, renderHtml(comparison, charts));
      out.stderr(`wrote ${parsed.report}\n`);
    }
  } catch (e) {
    out.stderr(`netmatrix compare: cannot write output: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  return 0;
}

async function writeCharts(dir: string, charts: readonly RenderedChart[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const c of charts) await writeFile(join(dir, c.file), c.svg);
}
