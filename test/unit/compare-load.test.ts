/**
 * Unusable results files: each gives exactly one line naming the file and the problem, and
 * compare then prints no table at all and exits 1, even when other files are fine. Real
 * files in a temporary directory; nothing is mocked.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadResultsFiles } from '../../client/compare/load.js';
import { resultsFile, testResult } from '../fixtures/results/builder.js';
import { captureCompare } from '../helpers/compare.js';

let dir: string;
const at = (name: string) => join(dir, name);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'netmatrix-compare-load-'));
  const good = resultsFile({ label: 'good', results: [testResult({ path: 'pod', protocol: 'tcp', throughput: 1e9 })] });
  const text = JSON.stringify(good, null, 2);
  await writeFile(at('good.json'), text);
  await writeFile(at('truncated.json'), text.slice(0, Math.floor(text.length / 2)));
  await writeFile(at('foreign.json'), JSON.stringify({ name: 'some-package', version: '1.0.0' }));
  await writeFile(at('v2.json'), JSON.stringify({ ...good, version: 2 }));
  await writeFile(at('empty.json'), '');
  const { spec: _spec, ...noSpec } = good;
  await writeFile(at('no-spec.json'), JSON.stringify(noSpec));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const compare = captureCompare;

describe('an unusable results file', () => {
  const cases: [string, RegExp][] = [
    ['missing.json', /missing\.json: no such file$/],
    ['truncated.json', /truncated\.json: not JSON \(truncated or not a netmatrix results file\)$/],
    ['foreign.json', /foreign\.json: not a netmatrix results file/],
    ['v2.json', /v2\.json: results format version 2, this netmatrix reads 1$/],
    ['empty.json', /empty\.json: empty file/],
    ['no-spec.json', /no-spec\.json: invalid results file at spec: /],
  ];

  for (const [name, message] of cases) {
    it(`${name}: one line naming the file, no table, exit 1`, async () => {
      const r = await compare([at('good.json'), at(name)]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderrLines).toHaveLength(1);
      expect(r.stderrLines[0]).toMatch(message);
      expect(r.stderrLines[0]?.startsWith(at(name))).toBe(true);
    });
  }

  it('reports every bad file at once, one line each, in the order given', async () => {
    const names = cases.map(([n]) => n);
    const r = await compare([at('good.json'), ...names.map(at)]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderrLines.map((l) => l.slice(0, l.indexOf(': ')))).toEqual(names.map(at));
  });

  it('names a directory given as a file', async () => {
    const r = await compare([dir, at('good.json')]);
    expect(r.stderrLines).toEqual([`${dir}: is a directory, not a results file`]);
    expect(r.code).toBe(1);
  });

  it('writes no report when a file is bad', async () => {
    const report = at('never.html');
    await compare([at('good.json'), at('v2.json'), '--report', report]);
    expect(existsSync(report)).toBe(false);
    expect(existsSync(at('never-svg'))).toBe(false);
  });
});

describe('loadResultsFiles', () => {
  it('loads good files with the name as given', async () => {
    const loaded = await loadResultsFiles(['a.json'], async () => JSON.stringify(resultsFile({ label: 'a', results: [] })));
    expect(loaded.ok && loaded.runs.map((r) => [r.name, r.file.label])).toEqual([['a.json', 'a']]);
  });
});
