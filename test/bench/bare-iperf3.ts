/**
 * Bare iperf3 across the lab, for bench:overhead's side-by-side comparison: the same path, port
 * and UDP rate as netmatrix's test, with nothing of netmatrix running it.
 */
import type { LabNode } from '../../lab/plan.js';
import { netnsExec } from '../../lab/plan.js';
import { parseIperf3Output } from '../../shared/iperf3.js';
import type { Path, Protocol } from '../../shared/protocol.js';
import { exec, execChecked } from '../../sys/exec.js';
import { waitFor } from '../helpers/requirements.js';

/** The port the lab's Services forward (planLab's default), so the service path works for bare iperf3 too. */
export const PORT = 5201;
/** iperf3 -b for UDP, bits/s: netmatrix's default UDP rate, passed to both sides explicitly. */
export const UDP_BITRATE = 1_000_000_000;

/** Where a test from node1 to node2 runs on each path: client and server namespaces, addresses. */
function endpoints(path: Path, n1: LabNode, n2: LabNode) {
  if (path === 'node') return { clientNetns: n1.netns, serverNetns: n2.netns, bind: n2.hostIp, target: n2.hostIp };
  return { clientNetns: n1.podNetns, serverNetns: n2.podNetns, bind: n2.podIp, target: path === 'pod' ? n2.podIp : n2.serviceIp };
}

async function listening(netns: string): Promise<boolean> {
  // iperf3's control connection is TCP even for a UDP test.
  const out = await execChecked(netnsExec(netns, ['ss', '-ltnH', `sport = :${PORT}`]), { timeoutMs: 5_000 });
  return out.trim().length > 0;
}

/** Bare iperf3 from node1 to node2 on `path`: the receiver's rate, bits/s. */
export async function bare(path: Path, protocol: Protocol, durationSeconds: number, n1: LabNode, n2: LabNode): Promise<number> {
  const e = endpoints(path, n1, n2);
  const deadlineMs = durationSeconds * 1000 + 30_000;
  const stopServer = new AbortController();
  const serving = exec(netnsExec(e.serverNetns, ['iperf3', '-s', '-1', '-B', e.bind, '-p', String(PORT)]), {
    timeoutMs: deadlineMs,
    signal: stopServer.signal,
  });
  let rate: number;
  try {
    await waitFor(() => listening(e.serverNetns), 5_000, `bare iperf3 server in ${e.serverNetns}`, 20);
    const udp = protocol === 'udp' ? ['-u', '-b', String(UDP_BITRATE)] : [];
    const client = await exec(
      netnsExec(e.clientNetns, ['iperf3', '-c', e.target, '-p', String(PORT), '-J', '-t', String(durationSeconds), ...udp]),
      {
        timeoutMs: deadlineMs,
      },
    );
    // iperf3 3.12 exits 0 on many failures: judge by the document.
    const outcome = parseIperf3Output(client.stdout);
    if (!outcome.ok) throw new Error(`bare iperf3 ${path}/${protocol} failed: ${outcome.failure.code}: ${outcome.failure.message}`);
    rate = outcome.result.receivedBitsPerSecond;
  } catch (err) {
    // The one-off server would otherwise wait out its deadline for a client that never comes.
    stopServer.abort();
    await serving;
    throw err;
  }
  const s = await serving;
  // A server that could not bind (a leftover listener) means the client measured someone else.
  if (s.exitCode !== 0)
    throw new Error(`bare iperf3 server in ${e.serverNetns} exited ${s.exitCode ?? s.signal}: ${s.stderr.trim() || s.stdout.trim()}`);
  return rate;
}
