/**
 * The test kinds (shared/kinds) and the deadlines derived from a spec (shared/deadlines.ts): each
 * kind's traits say what runTest and the agent used to branch on, and both ends compute the same
 * deadlines from the spec alone.
 */
import { describe, expect, it } from 'vitest';
import { hasListener, hasUdpListener } from '../../agent/listening.js';
import { ERROR_CODES } from '../../shared/errors.js';
import { clientDeadlineMs, clientResultWaitMs, resultMarginMs, serverDeadlineMs } from '../../shared/deadlines.js';
import { kindOf, MAX_DURATION_SECONDS, TEST_KINDS, TestSpecSchema } from '../../shared/kinds/index.js';
import { latencySpec, throughputSpec } from '../helpers/specs.js';

const tcp = throughputSpec();
const udpLatency = latencySpec();

describe('the kinds', () => {
  it('are throughput and latency, and the spec union tells them apart by kind alone', () => {
    expect(TEST_KINDS).toEqual(['throughput', 'latency']);
    expect(TestSpecSchema.parse(tcp)).toEqual(tcp);
    expect(TestSpecSchema.parse(udpLatency)).toEqual(udpLatency);
    expect(TestSpecSchema.safeParse({ ...udpLatency, kind: 'throughput' }).success).toBe(false);
    expect(TestSpecSchema.safeParse({ ...tcp, kind: 'rate' }).success).toBe(false);
  });

  it('bound their durations (3600 s throughput, 600 s latency); the agent max is the longest', () => {
    expect(TestSpecSchema.safeParse({ ...tcp, durationSeconds: 3600 }).success).toBe(true);
    expect(TestSpecSchema.safeParse({ ...tcp, durationSeconds: 3601 }).success).toBe(false);
    expect(TestSpecSchema.safeParse({ ...udpLatency, durationSeconds: 600 }).success).toBe(true);
    expect(TestSpecSchema.safeParse({ ...udpLatency, durationSeconds: 601 }).success).toBe(false);
    expect(MAX_DURATION_SECONDS).toBe(3600);
  });

  it("say whether the server ends by itself and which socket says it is ready (iperf3's control connection is TCP)", () => {
    expect(kindOf(tcp)).toMatchObject({ serverExits: true, cpuMeaningful: true, tool: 'iperf3' });
    expect(kindOf({ ...tcp, protocol: 'udp' }).readyTransport({ ...tcp, protocol: 'udp' })).toBe('tcp');
    expect(kindOf(udpLatency)).toMatchObject({ serverExits: false, cpuMeaningful: false, tool: 'sockperf' });
    expect(kindOf(udpLatency).readyTransport(udpLatency)).toBe('udp');
  });

  it("fail with their own tool's codes: a latency test never with iperf3's", () => {
    for (const code of Object.values(kindOf(udpLatency).codes)) expect(code).toMatch(/^sockperf-/);
    for (const code of Object.values(kindOf(tcp).codes)) expect(code).toMatch(/^iperf3-/);
    for (const kind of [tcp, udpLatency]) for (const code of Object.values(kindOf(kind).codes)) expect(ERROR_CODES).toHaveProperty(code);
  });

  it('run their clients for the omitted seconds plus the duration (iperf3), or the duration plus the warm-up (sockperf)', () => {
    expect(kindOf(tcp).runMs({ ...tcp, omitSeconds: 2 })).toBe(12_000);
    expect(kindOf(udpLatency).runMs(udpLatency)).toBe(4500);
  });
});

describe('deadlines from the spec', () => {
  it("kill the client at its run + connect timeout + margin (the shipped agent's 3 s + 5 s)", () => {
    expect(clientDeadlineMs(tcp)).toBe(10_000 + 3000 + 5000);
    expect(clientDeadlineMs({ ...tcp, omitSeconds: 1 }, { connectTimeoutMs: 1000, marginMs: 100 })).toBe(11_000 + 1100);
    expect(clientDeadlineMs(udpLatency)).toBe(2000 + 2500 + 8000);
  });

  it('let the server live its idle timeout longer than the client', () => {
    expect(serverDeadlineMs(tcp, 20)).toBe(20_000 + clientDeadlineMs(tcp));
    expect(serverDeadlineMs(udpLatency, 1, { connectTimeoutMs: 100, marginMs: 100 })).toBe(1000 + 4500 + 200);
  });

  it("wait for the client's result past its run by the configured margin, or an announced slack plus 2 s when longer", () => {
    expect(resultMarginMs(15_000, undefined)).toBe(15_000);
    expect(resultMarginMs(1000, 8000)).toBe(10_000);
    expect(clientResultWaitMs({ ...tcp, omitSeconds: 3 }, 15_000)).toBe(13_000 + 15_000);
    // The shipped agent's deadline, plus the grace, fits in the default margin: no announcement needed.
    expect(clientDeadlineMs(tcp) + 2000).toBeLessThanOrEqual(clientResultWaitMs(tcp, 15_000));
  });
});

describe('the /proc/net readers', () => {
  const header = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
  it('find a TCP listener (st 0A) on the port, and not a connection on it', () => {
    const text = `${header}   0: 0100007F:1451 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1\n   1: 0100007F:1452 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 2\n`;
    expect(hasListener(text, 0x1451)).toBe(true);
    expect(hasListener(text, 0x1452)).toBe(false);
  });

  it('find a bound, unconnected UDP socket (st 07, remote 0:0), and not a connected one', () => {
    const text = `${header}   0: 0100007F:1451 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1\n   1: 0100007F:1452 0100007F:0009 07 00000000:00000000 00:00000000 00000000     0        0 2\n`;
    expect(hasUdpListener(text, 0x1451)).toBe(true);
    expect(hasUdpListener(text, 0x1452)).toBe(false);
  });
});
