/**
 * compare's verdicts on real lab measurements (`netmatrix run --lab`, real iperf3 across real
 * namespaces, then `netmatrix compare --json`):
 * - the same profile measured twice is never called "changed" on TCP throughput, on any path;
 * - a 2 Gbit/s link cap against a 1.6 Gbit/s one (-20 % by construction) is called "changed",
 *   with an interval that contains -20 %;
 * - the VXLAN overlay against direct routing is called "changed" on pod-to-pod TCP throughput.
 * Each run is 6 ordered pairs x 3 repeats (5 for the overlay) of 2 s tests.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ComparisonJson, FigureJson } from '../../client/compare/json.js';
import { exec } from '../../sys/exec.js';
import { captureCompare } from '../helpers/compare.js';
import { describeWith } from '../helpers/requirements.js';

const RUN_TIMEOUT_MS = 10 * 60_000;
let dir = '';

/** `netmatrix run --lab` with these flags into DIR/label.json. */
async function labRun(label: string, flags: string[], repeat = 3): Promise<string> {
  const out = join(dir, `${label}-${Date.now()}.json`);
  const spec = ['--duration', '2', '--repeat', String(repeat), '--protocols', 'tcp'];
  const r = await exec(['npx', 'tsx', 'cli/main.ts', 'run', '--lab', '--label', label, '--out', out, ...spec, ...flags], {
    timeoutMs: RUN_TIMEOUT_MS,
  });
  expect(r.exitCode, `${label}: ${r.stderr.slice(-2000)}`).toBe(0);
  return out;
}

async function compareJson(files: string[]): Promise<ComparisonJson> {
  const json = join(dir, `compare-${files.length}-${Date.now()}.json`);
  const r = await captureCompare([...files, '--json', json]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(await readFile(json, 'utf8')) as ComparisonJson;
}

function throughput(c: ComparisonJson, path: string): FigureJson {
  const f = c.figures.find((x) => x.kind === 'throughput' && x.path === path && x.protocol === 'tcp' && x.figure === 'throughput');
  if (!f) throw new Error(`no ${path} TCP throughput in the comparison`);
  return f;
}

describeWith({ root: true, binaries: ['ip', 'iptables', 'iperf3', 'tc', 'bridge'] }, 'compare on real lab runs', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'netmatrix-compare-lab-'));
  });
  afterAll(async () => {
    await exec(['npx', 'tsx', 'cli/main.ts', 'lab', 'down'], { timeoutMs: 120_000 });
    await rm(dir, { recursive: true, force: true });
  });

  it(
    'never calls the same profile measured twice "changed" on TCP throughput, on any path',
    async () => {
      const first = await labRun('direct', []);
      const second = await labRun('direct', []);
      const c = await compareJson([first, second]);
      for (const path of ['node', 'pod', 'service']) {
        const e = throughput(c, path).comparisons[0];
        expect(e?.drift).toBe(true);
        expect(e?.method).toBe('paired');
        expect(e?.verdict, `${path}: ${JSON.stringify(e)}`).not.toBe('changed');
        expect(e?.ciLow).not.toBeNull();
      }
    },
    2 * RUN_TIMEOUT_MS,
  );

  it(
    'calls a 1.6 Gbit/s link against a 2 Gbit/s one "changed", with an interval containing -20 %',
    async () => {
      const fast = await labRun('link-2gbit', ['--paths', 'node', '--link-rate', '2gbit']);
      const slow = await labRun('link-1600mbit', ['--paths', 'node', '--link-rate', '1600mbit']);
      const e = throughput(await compareJson([fast, slow]), 'node').comparisons[0];
      expect(e?.verdict, JSON.stringify(e)).toBe('changed');
      expect(e?.ciLow).toBeLessThanOrEqual(-20);
      expect(e?.ciHigh).toBeGreaterThanOrEqual(-20);
    },
    2 * RUN_TIMEOUT_MS,
  );

  it(
    'calls the VXLAN overlay against direct routing "changed" on pod-to-pod TCP throughput',
    async () => {
      // Adjacent in time and 5 passes each: the overlay costs 5-15 % here (LIBRARIES.md), so
      // the design must detect well under that (its pass-to-pass spread is known to 4 df).
      const direct = await labRun('direct', ['--paths', 'pod'], 5);
      const vxlan = await labRun('vxlan', ['--paths', 'pod', '--pod-network', 'vxlan'], 5);
      const e = throughput(await compareJson([direct, vxlan]), 'pod').comparisons[0];
      expect(e?.verdict, JSON.stringify(e)).toBe('changed');
      expect(e?.estimate).toBeLessThan(0);
    },
    2 * RUN_TIMEOUT_MS,
  );
});
