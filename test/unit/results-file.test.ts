/**
 * The run spec a results file records: files written before omitted seconds existed (real
 * captured ones) still load, and say they omitted nothing.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseResultsFile, ResultsFileError } from '../../shared/results-file.js';

const captured = (name: string) => readFileSync(new URL(`../fixtures/results/captured/${name}`, import.meta.url), 'utf8');

describe('the run spec of a results file', () => {
  it.each(['loopback-v1.json', 'loopback-latency.json'])('loads %s, written before omitSeconds, as omitting nothing', (name) => {
    const text = captured(name);
    expect(text).not.toContain('omitSeconds');
    expect(parseResultsFile(name, text).spec.omitSeconds).toBe(0);
  });

  it('keeps the omitted seconds and an unlimited UDP rate (0) of a run', () => {
    const data = JSON.parse(captured('loopback-v1.json')) as { spec: Record<string, unknown> };
    const text = JSON.stringify({ ...data, spec: { ...data.spec, omitSeconds: 2, udpBitrateBitsPerSecond: 0 } });
    expect(parseResultsFile('max.json', text).spec).toMatchObject({ omitSeconds: 2, udpBitrateBitsPerSecond: 0 });
  });

  it('refuses a negative omit, naming the field', () => {
    const data = JSON.parse(captured('loopback-v1.json')) as { spec: Record<string, unknown> };
    const text = JSON.stringify({ ...data, spec: { ...data.spec, omitSeconds: -1 } });
    expect(() => parseResultsFile('bad.json', text)).toThrow(ResultsFileError);
    expect(() => parseResultsFile('bad.json', text)).toThrow(/^bad\.json: invalid results file at spec\.omitSeconds: /);
  });
});
