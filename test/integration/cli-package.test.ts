/**
 * The `netmatrix` command as a user installs it: `npm pack` (which builds dist/ first), then
 * `npm install -g --prefix <tmp> <tarball>`, then the installed command run from outside the
 * checkout: `--help` lists the commands, `compare` reads fixture results files and writes its
 * HTML report (vega, a runtime dependency), and the aggregator serves its page's files (copied
 * into dist/ by the build). The package must hold the compiled CLI and nothing of the tests.
 *
 * Needs no root and no lab. Dependencies come from npm's cache when it has them
 * (--prefer-offline) and from the registry otherwise: a package carries no lockfile, so
 * `npm install` resolves its dependencies' versions itself. Any failure of pack or install fails here.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EBPF, IPTABLES, scenarioFile } from '../fixtures/results/builder.js';
import { waitFor } from '../helpers/requirements.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** npm's own settings from an enclosing `npm test` (npm_config_*) would override ours: leave them out. */
const npmEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));

interface Ran {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/** Run argv in `cwd` (sys/exec has no cwd: the product never needs one). */
function run(argv: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env, timeout = 60_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const [file = '', ...args] = argv;
    const child = spawn(file, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], timeout });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (exitCode) => resolve({ exitCode, stdout, stderr }));
  });
}

/** npm in `cwd`; a failure throws with npm's own output, so the test fails loudly and says why. */
async function npm(args: readonly string[], cwd: string): Promise<string> {
  const r = await run(['npm', ...args], cwd, npmEnv, 5 * 60_000);
  if (r.exitCode !== 0) throw new Error(`npm ${args.join(' ')} exited ${r.exitCode}:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)));
}

describe('the netmatrix package, packed and installed with npm', () => {
  let dir: string;
  let prefix: string;
  let netmatrix: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'netmatrix-package-'));
    prefix = join(dir, 'prefix');
    const packed = await npm(['pack', '--json', '--pack-destination', dir], ROOT);
    const [{ filename }] = JSON.parse(packed.slice(packed.search(/^\[/m))) as [{ filename: string }];
    const tarball = join(dir, filename);
    await npm(['install', '-g', '--prefer-offline', '--no-audit', '--no-fund', '--prefix', prefix, tarball], dir);
    netmatrix = join(prefix, 'bin', 'netmatrix');
  }, 10 * 60_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('holds the compiled CLI, its runtime files and no sources, tests or dev dependencies', async () => {
    const pkg = join(prefix, 'lib', 'node_modules', 'netmatrix');
    const files = (await filesUnder(pkg)).filter((f) => !f.startsWith('node_modules/'));
    expect(files).toContain('bin/netmatrix.js');
    expect(files).toContain('dist/cli/main.js');
    expect(files).toContain('dist/aggregator/page/index.html');
    expect(files).toContain('dist/lab/service-proxies/bpf/service.c');
    expect(files.filter((f) => f.endsWith('.ts') || f.startsWith('test/') || f.includes('.test.'))).toEqual([]);
    const modules = await readdir(join(pkg, 'node_modules'));
    expect(modules).toContain('zod');
    for (const dev of ['tsx', 'vitest', 'typescript']) expect(modules).not.toContain(dev);
  });

  it('`netmatrix --help` lists every command', async () => {
    const r = await run([netmatrix, '--help'], dir);
    expect(r.exitCode, r.stderr).toBe(0);
    for (const c of ['agent', 'aggregator', 'lab up', 'lab down', 'lab status', 'run', 'compare', 'demo']) {
      expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    }
  });

  it('`netmatrix compare A.json B.json` prints the tables and writes the report with its charts', async () => {
    const a = join(dir, 'iptables.json');
    const b = join(dir, 'ebpf.json');
    await writeFile(a, JSON.stringify(scenarioFile(IPTABLES)));
    await writeFile(b, JSON.stringify(scenarioFile(EBPF)));
    const report = join(dir, 'report.html');
    const r = await run([netmatrix, 'compare', a, b, '--report', report], dir);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^netmatrix compare: iptables vs ebpf$/m);
    expect(r.stdout).toMatch(/^node-to-node TCP throughput$/m);
    expect(r.stdout).toMatch(/^iptables +18\/18 +\d+\.\d+ Gbit\/s/m);
    expect(await readFile(report, 'utf8')).toContain('<svg');
  });

  it('exits 2 with the usage for a usage error, as from the checkout', async () => {
    const r = await run([netmatrix, 'compare'], dir);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/^netmatrix compare: no results files given\nusage: netmatrix compare /);
  });

  it('`netmatrix aggregator` serves the live page and its assets from the installed files', async () => {
    const child = spawn(
      netmatrix,
      ['aggregator', '--token', 'package-test', '--host', '127.0.0.1', '--port', '0', '--continuous', 'false'],
      { cwd: dir, env: { ...process.env, NETMATRIX_LAB_STATE_FILE: join(dir, 'no-lab.json') }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    try {
      const address = await waitFor(
        () => /"address":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(output)?.[1],
        30_000,
        'the aggregator to listen',
      ).catch((e: unknown) => {
        throw new Error(`${String(e)}\n${output}`);
      });
      for (const path of ['/', '/assets/page.js', '/assets/vega.min.js']) {
        const res = await fetch(`${address}${path}`);
        expect(res.status, path).toBe(200);
      }
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(undefined)));
    }
  });
});
