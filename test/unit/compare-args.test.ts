/**
 * compare's command line: files and the value flags (--report, --svg-dir, --json, --margin,
 * --seed, --replicates) in either spelling, the SVG directory beside the report by default,
 * the statistics' defaults, and usage errors (no files, unknown flags, missing, repeated or
 * out-of-range values) that exit 2 with the usage.
 */
import { describe, expect, it } from 'vitest';
import { defaultSvgDir, parseCompareArgs } from '../../client/compare/args.js';
import { runCompare } from '../../client/compare/command.js';
import { DEFAULT_MARGIN, DEFAULT_REPLICATES, DEFAULT_SEED } from '../../client/compare/effect.js';

describe('parseCompareArgs', () => {
  it('takes files, --report and --svg-dir in "--flag value" and "--flag=value" form', () => {
    expect(parseCompareArgs(['a.json', '--report', 'r.html', 'b.json', '--svg-dir=charts'])).toEqual({
      kind: 'compare',
      files: ['a.json', 'b.json'],
      report: 'r.html',
      svgDir: 'charts',
      json: null,
      margin: 0.03,
      seed: 1,
      replicates: 1000,
    });
  });

  it('defaults to a 3 % margin, seed 1 and 1000 replicates, as the usage says', () => {
    expect([DEFAULT_MARGIN, DEFAULT_SEED, DEFAULT_REPLICATES]).toEqual([0.03, 1, 1000]);
    expect(parseCompareArgs(['a.json'])).toMatchObject({
      json: null,
      margin: DEFAULT_MARGIN,
      seed: DEFAULT_SEED,
      replicates: DEFAULT_REPLICATES,
    });
  });

  it('takes --json, --margin (in %, kept as a fraction), --seed and --replicates in "--flag value" form', () => {
    expect(parseCompareArgs(['a.json', '--margin', '5', '--seed', '42', 'b.json', '--replicates', '2000', '--json', 'out/c.json'])).toEqual(
      {
        kind: 'compare',
        files: ['a.json', 'b.json'],
        report: null,
        svgDir: null,
        json: 'out/c.json',
        margin: 0.05,
        seed: 42,
        replicates: 2000,
      },
    );
  });

  it('takes --json, --margin, --seed and --replicates in "--flag=value" form', () => {
    expect(parseCompareArgs(['--margin=2.5', 'a.json', '--seed=7', '--replicates=500', '--json=c.json'])).toEqual({
      kind: 'compare',
      files: ['a.json'],
      report: null,
      svgDir: null,
      json: 'c.json',
      margin: 0.025,
      seed: 7,
      replicates: 500,
    });
  });

  it('accepts the ends of each range', () => {
    expect(parseCompareArgs(['a.json', '--margin', '0', '--seed', '0', '--replicates', '100'])).toMatchObject({
      margin: 0,
      seed: 0,
      replicates: 100,
    });
    expect(parseCompareArgs(['a.json', '--margin', '100', '--seed', '4294967295', '--replicates', '100000'])).toMatchObject({
      margin: 1,
      seed: 4294967295,
      replicates: 100000,
    });
  });

  it.each([
    ['--margin', '-1'],
    ['--margin', 'abc'],
    ['--margin', '101'],
    ['--margin', '3%'],
    ['--margin', '1e1'],
    ['--seed', '1.5'],
    ['--seed', '-3'],
    ['--seed', '4294967296'],
    ['--seed', 'x'],
    ['--replicates', '5'],
    ['--replicates', '99'],
    ['--replicates', '100001'],
    ['--replicates', '1000.5'],
  ])('refuses %s %s with a message naming the flag and the value, in either spelling', (flag, value) => {
    for (const args of [
      ['a.json', flag, value],
      ['a.json', `${flag}=${value}`],
    ]) {
      const r = parseCompareArgs(args);
      expect(r.kind, args.join(' ')).toBe('usage-error');
      const message = r.kind === 'usage-error' ? r.message : '';
      expect(message.startsWith(`${flag} must be `), message).toBe(true);
      expect(message).toContain(`"${value}"`);
    }
  });

  it('says which range a numeric flag takes', () => {
    expect(parseCompareArgs(['a.json', '--margin', 'abc'])).toEqual({
      kind: 'usage-error',
      message: '--margin must be a number from 0 to 100, got "abc"',
    });
    expect(parseCompareArgs(['a.json', '--seed', '1.5'])).toEqual({
      kind: 'usage-error',
      message: '--seed must be an integer from 0 to 4294967295, got "1.5"',
    });
    expect(parseCompareArgs(['a.json', '--replicates', '5'])).toEqual({
      kind: 'usage-error',
      message: '--replicates must be an integer from 100 to 100000, got "5"',
    });
  });

  it('refuses the new flags without a value or given twice', () => {
    expect(parseCompareArgs(['a.json', '--json'])).toEqual({ kind: 'usage-error', message: '--json needs a value' });
    expect(parseCompareArgs(['a.json', '--json', '--margin', '5'])).toEqual({ kind: 'usage-error', message: '--json needs a value' });
    expect(parseCompareArgs(['a.json', '--margin='])).toEqual({ kind: 'usage-error', message: '--margin needs a value' });
    expect(parseCompareArgs(['a.json', '--seed', '1', '--seed=2'])).toEqual({ kind: 'usage-error', message: '--seed given twice' });
  });

  it('puts the SVGs beside the report by default, and none without a report', () => {
    expect(parseCompareArgs(['a.json', '--report', 'out/cmp.html'])).toMatchObject({ svgDir: 'out/cmp-svg' });
    expect(parseCompareArgs(['a.json'])).toMatchObject({ report: null, svgDir: null });
    expect(defaultSvgDir('report')).toBe('report-svg');
  });

  it('accepts a single file', () => {
    expect(parseCompareArgs(['only.json'])).toMatchObject({ kind: 'compare', files: ['only.json'] });
  });

  it('takes everything after -- as a file', () => {
    expect(parseCompareArgs(['--', '--odd.json'])).toMatchObject({ files: ['--odd.json'] });
  });

  it('refuses no files, unknown flags, missing and repeated values', () => {
    expect(parseCompareArgs([])).toEqual({ kind: 'usage-error', message: 'no results files given' });
    expect(parseCompareArgs(['a.json', '--out', 'x'])).toEqual({ kind: 'usage-error', message: 'unknown flag --out' });
    expect(parseCompareArgs(['a.json', '-x'])).toEqual({ kind: 'usage-error', message: 'unknown flag -x' });
    expect(parseCompareArgs(['a.json', '--report'])).toEqual({ kind: 'usage-error', message: '--report needs a value' });
    expect(parseCompareArgs(['a.json', '--report', '--svg-dir', 'd'])).toEqual({
      kind: 'usage-error',
      message: '--report needs a value',
    });
    expect(parseCompareArgs(['a.json', '--svg-dir='])).toEqual({ kind: 'usage-error', message: '--svg-dir needs a value' });
    expect(parseCompareArgs(['a.json', '--report=a', '--report=b'])).toEqual({
      kind: 'usage-error',
      message: '--report given twice',
    });
  });

  it('answers --help', () => {
    expect(parseCompareArgs(['a.json', '--help'])).toEqual({ kind: 'help' });
    expect(parseCompareArgs(['-h'])).toEqual({ kind: 'help' });
  });
});

describe('runCompare usage', () => {
  async function run(args: string[]) {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const code = await runCompare(args, { stdout: (s) => stdout.push(s), stderr: (s) => stderr.push(s) });
    return { code, stdout: stdout.join(''), stderr: stderr.join('') };
  }

  it('exits 2 with the usage when no file is given', async () => {
    const r = await run([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^netmatrix compare: no results files given\nusage: netmatrix compare /);
  });

  it('exits 2 on an unknown flag, before reading any file', async () => {
    const r = await run(['missing.json', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^netmatrix compare: unknown flag --bogus\n/);
    expect(r.stderr).not.toContain('missing.json: ');
  });

  it('exits 2 on a bad --margin, naming the flag, before reading any file', async () => {
    const r = await run(['missing.json', '--margin', '-1']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^netmatrix compare: --margin must be a number from 0 to 100, got "-1"\nusage: netmatrix compare /);
    expect(r.stderr).not.toContain('missing.json: ');
  });

  it('prints the usage on stdout for --help and exits 0, with the new flags in it', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: netmatrix compare BASELINE\.json/);
    for (const flag of ['--margin PCT', '--seed N', '--replicates N', '--json FILE']) expect(r.stdout).toContain(`  ${flag} `);
  });
});
