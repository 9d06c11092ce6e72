/**
 * The figure catalogue against itself and the walk that writes it: every label a family
 * declares is one the walk sets, every label that tells two series apart is declared (a
 * dropped one would write duplicate series), and the one unit conversion gives base units.
 */
import { describe, expect, it } from 'vitest';
import { API_THROUGHPUT_FIGURES, MATRIX_FAMILY_LIST, PAIR_FIGURES, toBaseUnit } from '../../aggregator/figures.js';
import { SCOPE_LABELS } from '../../aggregator/matrix-figures.js';

describe('the figure catalogue', () => {
  it.each(MATRIX_FAMILY_LIST.map((f) => [f.name, f] as const))('%s declares exactly the labels its series are written with', (_, f) => {
    const seriesLabels = new Set(f.series.flatMap((s) => Object.keys(s.labels)));
    const stat = f.aggregate.of === 'spread' ? ['stat'] : [];
    const counted = f.aggregate.of === 'pairs-measured' || f.aggregate.of === 'failing-runs' ? ['kind'] : [];
    // Every series label and stat tells series apart: each must be declared.
    for (const name of [...seriesLabels, ...stat]) expect(f.labelNames, name).toContain(name);
    // A declared label the walk never sets would be left off every series.
    const written = new Set([...SCOPE_LABELS[f.scope], ...seriesLabels, ...stat, ...counted]);
    if (f.aggregate.of === 'worst-path-median') expect(f.labelNames).toEqual(['node']);
    for (const name of f.labelNames) expect(written, name).toContain(name);
    // Two series with the same labels would be one series written twice.
    const keys = f.series.map((s) => JSON.stringify(Object.entries(s.labels).concat([['end', s.end ?? '']])));
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('names each family once, in Prometheus base units', () => {
    const names = MATRIX_FAMILY_LIST.map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) expect(n).toMatch(/^netmatrix_[a-z0-9_]+$/);
    for (const n of names) expect(n).not.toMatch(/_bits|_percent|_microseconds|_total$/);
  });

  it('gives each /api/matrix figure its own field', () => {
    const fields = API_THROUGHPUT_FIGURES.map((f) => f.api);
    expect(new Set(fields).size).toBe(fields.length);
    expect(fields).toContain(PAIR_FIGURES.throughput.api);
  });

  it('converts bit/s to bytes, percent to a ratio, µs to seconds, and leaves base units alone', () => {
    expect(toBaseUnit(8e9, 'bit/s')).toBe(1e9);
    expect(toBaseUnit(37.5, '%')).toBe(0.375);
    expect(toBaseUnit(250, 'µs')).toBe(250 / 1e6);
    expect(toBaseUnit(0.1 + 0.2, 's')).toBe(0.1 + 0.2);
    expect(toBaseUnit(7, 'count')).toBe(7);
  });
});
