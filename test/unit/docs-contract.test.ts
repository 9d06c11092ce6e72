/**
 * The README is a reference: these tests keep its metrics, failure reasons and settings in
 * step with the code, in both directions, and its rows for the matrix's gauges in step with
 * their catalogue (aggregator/figures.ts).
 */
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { AGENT_SETTINGS } from '../../agent/config.js';
import { buildAggregator } from '../../aggregator/app.js';
import { AGGREGATOR_SETTINGS, loadAggregatorConfig } from '../../aggregator/config.js';
import { MATRIX_FAMILY_LIST } from '../../aggregator/figures.js';
import { ERROR_CODES } from '../../shared/errors.js';
import { familyNames } from '../helpers/prometheus-text.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** First-column backticked names of the table that follows `heading`. */
function tableNames(heading: string): string[] {
  const section = readme.split(`## ${heading}`)[1]?.split('\n## ')[0] ?? '';
  return [...section.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1] as string);
}

/** The metrics table's rows by name: the type column, and the label names of the labels column (values in parentheses left out). */
function metricRows(): Map<string, { type: string; labels: string[] }> {
  const section = readme.split('## Metrics')[1]?.split('\n## ')[0] ?? '';
  const rows = new Map<string, { type: string; labels: string[] }>();
  for (const m of section.matchAll(/^\| `([^`]+)` \| ([^|]*) \| ([^|]*) \|/gm)) {
    const labels = [...(m[3] as string).replace(/\([^)]*\)/g, '').matchAll(/`([^`]+)`/g)].map((l) => l[1] as string);
    rows.set(m[1] as string, { type: (m[2] as string).trim(), labels });
  }
  return rows;
}

describe('README reference tables', () => {
  it('lists exactly the metrics the aggregator registers', async () => {
    const agg = await buildAggregator({
      config: loadAggregatorConfig({ NETMATRIX_TOKEN: 't', NETMATRIX_CONTINUOUS: 'false' }, []),
      log: pino({ level: 'silent' }),
    });
    const registered = familyNames(await agg.metrics.exposition()).sort();
    await agg.close();
    expect(tableNames('Metrics').sort()).toEqual(registered);
  });

  it('gives every gauge of the matrix the type and labels of its catalogue row', () => {
    const rows = metricRows();
    expect(rows.size).toBeGreaterThan(MATRIX_FAMILY_LIST.length);
    for (const f of MATRIX_FAMILY_LIST) expect(rows.get(f.name), f.name).toEqual({ type: f.type, labels: [...f.labelNames] });
  });

  it('lists exactly the failure reasons of the error catalogue', () => {
    expect(tableNames('Failure reasons').sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it('lists every aggregator and agent setting with its flag', () => {
    const documented = new Set(tableNames('Configuration'));
    for (const s of [...Object.values(AGGREGATOR_SETTINGS), ...Object.values(AGENT_SETTINGS)]) {
      expect(documented, s.env).toContain(s.env);
      expect(readme, s.flag).toContain(`\`--${s.flag}\``);
    }
    const known = new Set([...Object.values(AGGREGATOR_SETTINGS), ...Object.values(AGENT_SETTINGS)].map((s) => s.env));
    for (const env of documented) expect(known, env).toContain(env);
  });
});
