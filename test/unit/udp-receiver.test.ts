/**
 * A UDP test's jitter and loss come from its receiver, wherever they are shown (the matrix, the
 * CSV, the results file's tests), on real iperf3 3.12 reports captured on loopback with -O 1 at
 * -b 0 (test/fixtures/iperf3/capture.sh), where the two sides disagree.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cellResult } from '../../aggregator/results.js';
import { resultsCsv } from '../../client/csv.js';
import { parseIperf3Output } from '../../shared/iperf3.js';
import type { IperfResult } from '../../shared/iperf3-result.js';
import { receiverUdp, type TestResult } from '../../shared/result.js';

function report(name: string): IperfResult {
  const outcome = parseIperf3Output(readFileSync(new URL(`../fixtures/iperf3/${name}`, import.meta.url), 'utf8'));
  if (!outcome.ok) throw new Error(`${name} did not parse: ${outcome.failure.message}`);
  return outcome.result;
}

/** A UDP test as the aggregator records it, with the captured client and server reports. */
function udpTest(client: string, server: string | null, o: { reverse: boolean; omitSeconds: number }): TestResult {
  const iperf = report(client);
  const side = { pod: 'p', topology: null, cpu: null, cpuSecondsPerGigabyte: null, nic: null };
  return {
    id: `t-${client}`,
    runId: 'run-1',
    label: 'max',
    kind: 'throughput',
    path: 'node',
    protocol: 'udp',
    spec: { protocol: 'udp', durationSeconds: 2, bitrateBitsPerSecond: 0, streams: 1, reverse: o.reverse, omitSeconds: o.omitSeconds },
    source: { node: 'a', ...side },
    target: { node: 'b', ...side, address: '127.0.0.1', port: 5201 },
    startedAt: '2026-11-24T10:00:00.000Z',
    endedAt: '2026-11-24T10:00:03.000Z',
    ok: true,
    error: null,
    throughputBitsPerSecond: iperf.receivedBitsPerSecond,
    iperf,
    serverIperf: server === null ? null : report(server),
    latency: null,
  };
}

const forward = udpTest('udp-omit.json', 'server-udp-omit.json', { reverse: false, omitSeconds: 1 });
const reverse = udpTest('udp-reverse-omit.json', 'server-udp-reverse-omit.json', { reverse: true, omitSeconds: 1 });

describe('UDP figures from the receiver', () => {
  it("takes a forward test's loss from the server, which received; the client's copy counted the omitted second", () => {
    const server = report('server-udp-omit.json').udp;
    expect(server?.lossRatio).toBeGreaterThan(0);
    expect(server?.lossRatio).toBeLessThan(1);
    expect(receiverUdp(forward)).toEqual(server);
    // The headline rate is the receiver's too: the client's copy of it matches the server's own.
    expect(forward.throughputBitsPerSecond).toBe(forward.serverIperf?.receivedBitsPerSecond);
    expect(forward.throughputBitsPerSecond).toBeLessThan(forward.iperf?.sentBitsPerSecond ?? 0);
  });

  it("takes a -R test's loss from the client, which received", () => {
    expect(reverse.serverIperf?.udp).toBeUndefined();
    expect(receiverUdp(reverse)).toEqual(report('udp-reverse-omit.json').udp);
  });

  it("falls back to the client's copy without a server report (without -O it is the server's)", () => {
    const alone = udpTest('udp.json', null, { reverse: false, omitSeconds: 0 });
    expect(receiverUdp(alone)).toEqual(report('server-udp.json').udp);
    expect(receiverUdp(udpTest('udp-omit.json', null, { reverse: false, omitSeconds: 1 }))).toBeNull();
  });

  it("shows the receiver's loss and jitter in the matrix and in the CSV", () => {
    const server = report('server-udp-omit.json').udp;
    expect(cellResult(forward)).toMatchObject({ udpLossRatio: server?.lossRatio, udpJitterSeconds: server?.jitterSeconds });
    const [header, row] = resultsCsv([forward])
      .trimEnd()
      .split('\n')
      .map((l) => l.split(','));
    const cell = (name: string) => row?.[header?.indexOf(name) ?? -1];
    expect(Number(cell('udp_loss_ratio'))).toBe(server?.lossRatio);
    expect(Number(cell('udp_jitter_seconds'))).toBe(server?.jitterSeconds);
    expect(cell('omit_seconds')).toBe('1');
  });
});
