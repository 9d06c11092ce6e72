/**
 * compare's command line: files and the two flags in either spelling, the SVG directory
 * beside the report by default, and usage errors (no files, unknown flags, missing values)
 * that exit 2 with the usage.
 */
import { describe, expect, it } from 'vitest';
import { defaultSvgDir, parseCompareArgs } from '../../client/compare/args.js';
import { runCompare } from '../../client/compare/command.js';

describe('parseCompareArgs', () => {
  it('takes files, --report and --svg-dir in "--flag value" and "--flag=value" form', () => {
    expect(parseCompareArgs(['a.json', '--report', 'r.html', 'b.json', '--svg-dir=charts'])).toEqual({
      kind: 'compare',
      files: ['a.json', 'b.json'],
      report: 'r.html',
      svgDir: 'charts',
    });
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

  it('prints the usage on stdout for --help and exits 0', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: netmatrix compare BASELINE\.json/);
  });
});
