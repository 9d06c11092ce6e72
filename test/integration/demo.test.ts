/**
 * The demo's promise to a newcomer without root: one clear line saying why there is no lab,
 * then a loopback demo whose agents measure node and pod paths, and a clean stop on Ctrl-C.
 * Run as the unprivileged user `nobody` (so it needs root to switch users, and setpriv).
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { netmatrixCommand } from '../../lab/agents.js';
import { exec } from '../../sys/exec.js';
import { describeWith, waitFor } from '../helpers/requirements.js';

describeWith({ root: true, binaries: ['setpriv', 'iperf3'] }, 'the demo without root', () => {
  it('says in one line that the lab needs root, runs the loopback demo, and stops cleanly on SIGINT', async () => {
    const home = await mkdtemp(join(tmpdir(), 'netmatrix-nobody-'));
    await chmod(home, 0o777); // nobody keeps its token file here
    // setpriv execs the demo itself (runuser would stay as a parent that swallows SIGINT).
    const argv = ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', ...netmatrixCommand(), 'demo', '--nodes', '2'];
    const child = spawn(argv[0] as string, argv.slice(1), {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, TMPDIR: home, NETMATRIX_LISTEN_PORT: '18080' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor(
        () =>
          ['node    tcp', 'node    udp', 'pod     tcp', 'pod     udp'].every((p) =>
            new RegExp(`^${p} local\\d -> local\\d +\\d`, 'm').test(out),
          ),
        60_000,
        'a result for node and pod paths, TCP and UDP',
        200,
      ).catch((e: unknown) => {
        throw new Error(`${String(e)}\noutput:\n${out}`);
      });
      const first = out.split('\n')[0] ?? '';
      expect(first).toBe(
        'netmatrix: the lab needs root (it creates network namespaces, veths and iptables rules); running the loopback demo instead (local agents, node and pod paths only)',
      );
      expect(out).not.toMatch(/FAILED/);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(out).toContain('stopping: agents, aggregator');
    } finally {
      if (child.exitCode === null) {
        // A failed test must not leave a demo or its loopback agents running.
        child.kill('SIGKILL');
        await exec(['pkill', '-KILL', '-u', 'nobody', '-f', 'cli/main.ts']);
      }
    }
  }, 90_000);
});
