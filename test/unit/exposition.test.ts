/**
 * The matrix gauges' own text writer against prom-client, which writes the rest of /metrics:
 * the same family, labels and values must come out as the same text, escapes and number forms
 * included, or one /metrics would mix two dialects.
 */
import { Gauge, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { GaugeText, type GaugeFamily, type Labels } from '../../aggregator/exposition.js';
import { parseExposition } from '../helpers/prometheus-text.js';

const family: GaugeFamily = {
  name: 'netmatrix_test_gauge',
  help: 'A help text with a backslash \\ and a\nnewline.',
  labelNames: ['path', 'node', 'stat'],
};

const SERIES: Array<[Labels, number]> = [
  [{ path: 'pod', node: 'plain', stat: 'min' }, 0],
  [{ path: 'pod', node: 'quote"d', stat: 'max' }, 1.5e-7],
  [{ path: 'pod', node: 'back\\slash', stat: 'max' }, 1e21],
  [{ path: 'pod', node: 'new\nline', stat: 'max' }, -42.125],
  [{ path: 'pod', node: 'ünïcödé', stat: 'median' }, 123456789.123],
  [{ path: 'node', node: 'x' }, 7],
  [{ node: 'inf', path: 'pod', stat: 'max' }, Infinity],
  [{ path: 'pod', node: 'ninf', stat: 'min' }, -Infinity],
];

async function promClientText(): Promise<string> {
  const registry = new Registry();
  const g = new Gauge({ name: family.name, help: family.help, labelNames: [...family.labelNames], registers: [registry] });
  // prom-client writes labels in the order of the object's keys: give them in labelNames order.
  for (const [labels, v] of SERIES)
    g.set(Object.fromEntries(family.labelNames.flatMap((n) => (labels[n] === undefined ? [] : [[n, labels[n]]]))), v);
  return registry.metrics();
}

const text = (out: GaugeText) => out.chunks().join('');

describe('GaugeText', () => {
  it('writes what prom-client writes for the same series', async () => {
    const out = new GaugeText([family]);
    for (const [labels, v] of SERIES) out.sample(family, labels, v);
    expect(text(out)).toBe(await promClientText());
  });

  it('writes labels in the family order whatever the order of the object, and reads back', () => {
    const out = new GaugeText([family]);
    out.sample(family, { stat: 'max', node: 'a "b"', path: 'pod' }, 2);
    const written = text(out);
    expect(written.split('\n')[2]).toBe('netmatrix_test_gauge{path="pod",node="a \\"b\\"",stat="max"} 2');
    expect(parseExposition(written)).toEqual([{ name: family.name, labels: { path: 'pod', node: 'a \\"b\\"', stat: 'max' }, value: 2 }]);
  });

  it('keeps each family together and in the listed order, whatever order samples come in', () => {
    const other: GaugeFamily = { name: 'netmatrix_other', help: 'Other.', labelNames: ['node'] };
    const empty: GaugeFamily = { name: 'netmatrix_empty', help: 'None.', labelNames: [] };
    const out = new GaugeText([other, empty, family]);
    out.sample(family, { path: 'pod' }, 1);
    out.sample(other, { node: 'a' }, 2);
    out.sample(family, { path: 'host' }, 3);
    expect(text(out)).toBe(
      [
        '# HELP netmatrix_other Other.',
        '# TYPE netmatrix_other gauge',
        'netmatrix_other{node="a"} 2',
        '',
        '# HELP netmatrix_empty None.',
        '# TYPE netmatrix_empty gauge',
        '',
        '# HELP netmatrix_test_gauge A help text with a backslash \\\\ and a\\nnewline.',
        '# TYPE netmatrix_test_gauge gauge',
        'netmatrix_test_gauge{path="pod"} 1',
        'netmatrix_test_gauge{path="host"} 3',
        '',
      ].join('\n'),
    );
  });

  it("writes NaN as the format spells it (prom-client's 'Nan' is the one place they differ)", () => {
    const out = new GaugeText([family]);
    out.sample(family, { path: 'pod' }, NaN);
    expect(text(out).split('\n')[2]).toBe('netmatrix_test_gauge{path="pod"} NaN');
  });

  it('cuts a family of thousands of series into chunks of whole lines, in order', () => {
    const other: GaugeFamily = { name: 'netmatrix_other', help: 'Other.', labelNames: ['node'] };
    const out = new GaugeText([family, other]);
    for (let i = 0; i < 3000; i++) out.sample(family, { node: `n${i}` }, i);
    out.sample(other, { node: 'a' }, 1);
    const chunks = out.chunks();
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks) expect(c.endsWith('\n')).toBe(true);
    const samples = parseExposition(chunks.join(''));
    expect(samples.map((x) => x.value)).toEqual([...Array.from({ length: 3000 }, (_, i) => i), 1]);
    expect(samples[2999]).toEqual({ name: family.name, labels: { node: 'n2999' }, value: 2999 });
  });

  it('refuses a sample of a family it was not given', () => {
    const out = new GaugeText([family]);
    expect(() => out.sample({ ...family, name: 'netmatrix_unlisted' }, {}, 1)).toThrow(/netmatrix_unlisted is not one of/);
  });
});
