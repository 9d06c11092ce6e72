/**
 * The `netmatrix` entry point run as a process (tsx, from the sources): how commands compose
 * their flag tables (`run` takes lab flags only with --lab, `demo` reports a stray flag as a lab
 * flag), usage errors in one line with exit 2, and --help with exit 0. Every case here fails
 * before anything is built or contacted: no root, no lab, no aggregator.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { exec } from '../../sys/exec.js';

const MAIN = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));

/** Run the CLI with an environment free of NETMATRIX_* variables, so only the flags count. */
function netmatrix(...args: string[]) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('NETMATRIX_')));
  return exec([process.execPath, '--import', 'tsx', MAIN, ...args], { env, timeoutMs: 30_000 });
}

// tsx compiles the whole command graph at each start: seconds per process on a busy machine.
describe('netmatrix, the process', { timeout: 90_000 }, () => {
  it('refuses lab flags on run without --lab, in one line, exit 2', async () => {
    const r = await netmatrix('run', '--label', 'x', '--out', 'x.json', '--nodes', '3');
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toBe('netmatrix: invalid lab flags: --nodes needs --lab\n');
  });

  it('checks the run flags, then the lab flags, before building a lab', async () => {
    const noOut = await netmatrix('run', '--lab', '--label', 'x', '--nodes', '0');
    expect(noOut.exitCode).toBe(2);
    expect(noOut.stderr).toMatch(/^netmatrix: invalid configuration:\n {2}NETMATRIX_RUN_OUT not set: /);
    const badLab = await netmatrix('run', '--lab', '--label', 'x', '--out', 'x.json', '--nodes', '0', '--pod-network=ipip');
    expect(badLab.exitCode).toBe(2);
    expect(badLab.stderr).toBe(
      'netmatrix: invalid lab flags: --nodes must be an integer from 1 to 50, got "0"; --pod-network must be one of direct, vxlan, got "ipip"\n',
    );
  });

  it("reports a flag demo does not know as a lab flag problem, with the lab's flags", async () => {
    const r = await netmatrix('demo', '--loopback', '--bogus');
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toBe(
      'netmatrix: invalid lab flags: unknown flag --bogus (lab flags: --nodes, --pod-network, --service-proxy, --link-rate)\n',
    );
  });

  it('answers a group without its subcommand with its usage, exit 2, and --help with exit 0', async () => {
    const lab = await netmatrix('lab');
    expect([lab.exitCode, lab.stderr]).toEqual([2, 'netmatrix: usage: netmatrix lab up|down|status\n']);
    const help = await netmatrix('lab', 'up', '--help');
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toMatch(/^usage: netmatrix lab up \[lab flags\]\n/);
    expect(help.stdout).toMatch(
      /^ {2}--service-proxy +how Services are translated: iptables \([^\n]*; default\), nftables \([^\n]*\), ebpf \([^\n]*\)$/m,
    );
  });
});
