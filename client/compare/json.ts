/**
 * `compare --json FILE`: the comparison as a stable, machine-readable document, from the same
 * computation as the text tables and the HTML report. Format "netmatrix-compare", version 1;
 * fields are only ever added within a version. Documented in the README ("compare --json").
 */
import { CONFIDENCE, type Effect } from './effect.js';
import type { Comparison, FigureAnalysis, Section } from './compare.js';
import type { TestKind } from '../../shared/protocol.js';

export const COMPARE_JSON_FORMAT = 'netmatrix-compare';
export const COMPARE_JSON_VERSION = 1;

export interface ComparisonJson {
  format: typeof COMPARE_JSON_FORMAT;
  version: typeof COMPARE_JSON_VERSION;
  confidence: number;
  /** Practical margin of ratio figures, in % (linear figures carry their own in each comparison). */
  marginPercent: number;
  seed: number;
  replicates: number;
  runs: { label: string; file: string; startedAt: string; nodes: number; dataplane: string }[];
  notes: string[];
  figures: FigureJson[];
}

export interface FigureJson {
  kind: TestKind;
  path: Section['path'];
  protocol: Section['protocol'];
  /** figures.ts id, e.g. "throughput", "client-cpu-seconds-per-gigabyte-marginal". */
  figure: string;
  title: string;
  unit: string;
  /** "log": estimates are % changes; "linear": differences in `unit`. */
  scale: 'log' | 'linear';
  /** Per run, in the order of `runs`: the median over pairs of each pair's median (in `unit`). */
  runs: { label: string; value: number | null; pairs: number; values: number }[];
  comparisons: ComparisonEntryJson[];
}

export interface ComparisonEntryJson {
  baseline: string;
  run: string;
  /** Both files carry one label: the difference is drift of one configuration. */
  drift: boolean;
  method: Effect['method'];
  estimator: Effect['estimator'];
  pairs: { baseline: number; run: number };
  repeats: { baseline: number; run: number };
  /** "%" for log figures, else the figure's unit. */
  effectUnit: string;
  estimate: number | null;
  ciLow: number | null;
  ciHigh: number | null;
  margin: number;
  /** Each run's median over the pairs compared of each pair's median, in the figure's unit. */
  values: { baseline: number | null; run: number | null };
  /** Minimum detectable effect (80 % power, 95 % confidence). */
  mde: number | null;
  /** null: no verdict, `reason` says why. */
  verdict: Effect['verdict'];
  reason: string | null;
}

export function comparisonJson(c: Comparison): ComparisonJson {
  const figures: FigureJson[] = [];
  for (const s of c.sections) {
    for (const f of s.figures) figures.push(figureJson(c, s, 'throughput', f));
    for (const f of s.latency?.figures ?? []) figures.push(figureJson(c, s, 'latency', f));
  }
  return {
    format: COMPARE_JSON_FORMAT,
    version: COMPARE_JSON_VERSION,
    confidence: CONFIDENCE,
    marginPercent: c.options.margin * 100,
    seed: c.options.seed,
    replicates: c.options.replicates,
    runs: c.runs.map((r) => ({ label: r.label, file: r.file, startedAt: r.startedAt, nodes: r.nodes, dataplane: r.dataplane })),
    notes: c.notes,
    figures,
  };
}

function figureJson(c: Comparison, s: Section, kind: TestKind, f: FigureAnalysis): FigureJson {
  const label = (i: number) => c.runs[i]?.label ?? '?';
  return {
    kind,
    path: s.path,
    protocol: s.protocol,
    figure: f.figure.id,
    title: f.figure.title,
    unit: f.figure.unit,
    scale: f.figure.scale,
    runs: f.runs.map((r, i) => ({ label: label(i), ...r })),
    comparisons: f.comparisons.map((e, i) => {
      const p = c.pairings[i] as Comparison['pairings'][number];
      return {
        baseline: label(p.baseline),
        run: label(p.run),
        drift: p.drift,
        method: e.method,
        estimator: e.estimator,
        pairs: { baseline: e.pairsA, run: e.pairsB },
        repeats: { baseline: e.repeatsA, run: e.repeatsB },
        effectUnit: f.figure.scale === 'log' ? '%' : f.figure.unit,
        estimate: e.estimate,
        ciLow: e.low,
        ciHigh: e.high,
        margin: e.margin,
        values: { baseline: e.valueA, run: e.valueB },
        mde: e.mde,
        verdict: e.verdict,
        reason: e.reason,
      };
    }),
  };
}
