/**
 * The machine-readable summary a benchmark writes with `--json FILE`, so that `npm run bench`
 * (all.ts) can print every bench's figures in one table. One file is one JSON array of rows;
 * the bench's own stdout stays its human report.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';

export const SummaryRowSchema = z.strictObject({
  /** Which bench measured it: "overhead", "scheduler", "load", "soak". */
  bench: z.string().min(1),
  /** What was measured, with its unit and scope, e.g. "node/tcp: netmatrix/bare throughput". */
  figure: z.string().min(1),
  /** The figure as printed, e.g. "0.985 (0.971..0.990)". */
  value: z.string(),
  /** The bound it is held to, as printed, e.g. ">= 0.97"; "" when it has none. */
  bound: z.string(),
  /** Whether it met the bound; null for a figure without one. */
  pass: z.boolean().nullable(),
});
export type SummaryRow = z.infer<typeof SummaryRowSchema>;

export const SummarySchema = z.array(SummaryRowSchema);

/** Write `rows` to `file` (the bench's `--json` argument). */
export function writeSummary(file: string, rows: readonly SummaryRow[]): void {
  writeFileSync(file, `${JSON.stringify(SummarySchema.parse(rows), null, 2)}\n`);
}

/** The rows of a summary file; throws with the file's name when it is not one. */
export function readSummary(file: string): SummaryRow[] {
  const parsed = SummarySchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`${file} is not a bench summary: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** PASS, MISS or blank: the verdict column every bench table shares. */
export const verdict = (pass: boolean | null): string => (pass === null ? '' : pass ? 'PASS' : 'MISS');

/** A plain text table, columns padded to their widest cell. */
export function textTable(head: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)];
}
