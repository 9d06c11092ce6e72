/**
 * An agent killed with SIGKILL cannot kill its iperf3: the runner starts iperf3 so that the
 * kernel does it (setpriv --pdeathsig KILL). A real runner in a child process serves on a port;
 * the child is SIGKILLed; the iperf3 it started must be gone soon after, long before its own
 * 120 s idle timeout.
 */
import { spawn } from 'node:child_process';
import { expect, it } from 'vitest';
import { netmatrixCommand } from '../../lab/agents.js';
import { freeLoopbackPort } from '../helpers/ports.js';
import { describeWith, waitFor } from '../helpers/requirements.js';
import { processesOn } from '../helpers/processes.js';

const FIXTURE = new URL('../fixtures/processes/serve-forever.ts', import.meta.url).pathname;

const iperf3On = (port: number) => processesOn('iperf3', port);

describeWith({ binaries: ['iperf3', 'setpriv', 'pgrep'] }, 'no orphan iperf3', () => {
  it('takes iperf3 down with an agent killed by SIGKILL', async () => {
    const port = await freeLoopbackPort();
    const [node, ...args] = netmatrixCommand().slice(0, 3);
    const child = spawn(node as string, [...args, FIXTURE, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    await waitFor(() => out.includes('ready'), 20_000, 'the server to listen');
    const [pid] = await iperf3On(port);
    expect(pid).toBeGreaterThan(0);
    child.kill('SIGKILL');
    await waitFor(async () => (await iperf3On(port)).length === 0, 10_000, `iperf3 ${pid} to die with its agent`);
  }, 40_000);
});
