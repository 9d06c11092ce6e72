/**
 * What the simulated agents of `bench:load` say: their hellos and MODELLED results. Nothing here
 * runs iperf3 or sockperf. The reports are parsed, once, from the captured real outputs under
 * test/fixtures (iperf3 -J documents, a sockperf ping-pong report, two /proc/stat snapshots), so
 * every frame is what a real agent would send for a test that went well, schema-valid and of a
 * real frame's size; only its ids and times change from one test to the next.
 *
 * Result frames are serialised once per kind of test and spliced around their ids: the load
 * generator shares two cores with the aggregator it measures, so it must cost little per frame.
 */
import { readFileSync } from 'node:fs';
import { cpuReport, parseProcStat, type CpuReport, type CpuTimes, type CpuWindow, type ProcStatSnapshot } from '../../shared/cpu.js';
import { parseIperf3Output } from '../../shared/iperf3.js';
import type { NicReport } from '../../shared/nic.js';
import { PROTOCOL_VERSION, type AgentIdentity, type NetworkMode, type Protocol } from '../../shared/protocol.js';
import { connectStats, parseSockperfOutput } from '../../shared/sockperf.js';

const FIXTURES = new URL('../fixtures/', import.meta.url);
const fixture = (path: string) => readFileSync(new URL(path, FIXTURES), 'utf8');

/** Nodes one address plan holds: 250 per /24, 254 of those. */
export const MAX_SIMULATED_NODES = 250 * 254;

/** Simulated node `i` (from 0): a cloud-style name (label values this long are what /metrics carries) and its addresses. */
export function simulatedNode(i: number): { name: string; hostIp: string; podIp: string; serviceIp: string } {
  if (!Number.isInteger(i) || i < 0 || i >= MAX_SIMULATED_NODES)
    throw new RangeError(`node index ${i} out of 0..${MAX_SIMULATED_NODES - 1}`);
  const a = 1 + Math.floor(i / 250);
  const b = 1 + (i % 250);
  return { name: `ip-10-1-${a}-${b}.ec2.internal`, hostIp: `10.1.${a}.${b}`, podIp: `10.2.${a}.${b}`, serviceIp: `10.3.${a}.${b}` };
}

/** The hello of the `mode` agent of simulated node `i`, as the DaemonSets' agents announce themselves. */
export function helloFrame(i: number, mode: NetworkMode, cores: number): string {
  const node = simulatedNode(i);
  const agent: AgentIdentity = {
    nodeName: node.name,
    podName: `netmatrix-agent-${mode}-${i.toString(36).padStart(5, '0')}`,
    // A hostNetwork pod's IP is its node's.
    podIp: mode === 'host' ? node.hostIp : node.podIp,
    hostIp: node.hostIp,
    mode,
    agentVersion: '0.1.0',
    iperf3Version: '3.12',
    iperf3Port: 5201,
    sockperfVersion: '3.7',
    facts: { cpuModel: 'Simulated CPU (bench:load)', cpuCores: cores, kernel: '6.1.0-simulated', nic: 'eth0', mtu: 9001 },
    limits: {
      maxDurationSeconds: 60,
      maxBitrateBitsPerSecond: 0,
      maxStreams: 8,
      portMin: 5201,
      portMax: 5201,
      allowedTargetCidrs: ['10.0.0.0/8'],
      deadlineSlackMs: 7000,
    },
  };
  return JSON.stringify({ type: 'hello', protocolVersion: PROTOCOL_VERSION, agent });
}

function must<T>(outcome: { ok: true; result: T } | { ok: false; failure: { message: string } }, what: string): T {
  if (!outcome.ok) throw new Error(`bench:load: the fixture ${what} no longer parses: ${outcome.failure.message}`);
  return outcome.result;
}

const MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;

function step(a: CpuTimes, b: CpuTimes, k: number): CpuTimes {
  const out = { ...a };
  for (const m of MODES) out[m] = a[m] + k * (b[m] - a[m]);
  return out;
}

/**
 * A node of `cores` cores that does, every second, what the captured /proc/stat pair shows (its
 * 2 cores' work copied onto the others): `seconds` + 1 snapshots, a second apart, from `atMs`.
 */
function modelledSnapshots(cores: number, seconds: number, atMs: number): ProcStatSnapshot[] {
  const a = parseProcStat(fixture('proc-stat/busy-1.txt'), 0);
  const b = parseProcStat(fixture('proc-stat/busy-2.txt'), 1000);
  const core = (snap: ProcStatSnapshot, c: number) => snap.cores[c % snap.cores.length] as CpuTimes;
  return Array.from({ length: seconds + 1 }, (_, k) => ({
    atMs: atMs + k * 1000,
    total: step(a.total, b.total, k),
    cores: Array.from({ length: cores }, (_, c) => step(core(a, c), core(b, c), k)),
  }));
}

/** Serialised result frames for the simulated agents, from the captured fixtures. */
export class ResultFrames {
  private readonly bodies = new Map<string, string>();
  private readonly iperf;
  private readonly latency;
  private readonly epochMs = Date.now();

  constructor(private readonly cores: number) {
    this.iperf = {
      client: {
        tcp: must(parseIperf3Output(fixture('iperf3/tcp.json')), 'iperf3/tcp.json'),
        udp: must(parseIperf3Output(fixture('iperf3/udp.json')), 'iperf3/udp.json'),
      },
      server: {
        tcp: must(parseIperf3Output(fixture('iperf3/server-tcp.json')), 'iperf3/server-tcp.json'),
        udp: must(parseIperf3Output(fixture('iperf3/server-udp.json')), 'iperf3/server-udp.json'),
      },
    };
    this.latency = {
      tcp: must(parseSockperfOutput(fixture('sockperf/tcp-64.txt'), 'tcp', 64), 'sockperf/tcp-64.txt'),
      udp: must(parseSockperfOutput(fixture('sockperf/udp-64.txt'), 'udp', 64), 'sockperf/udp-64.txt'),
    };
  }

  /** The node's CPU over a test of `seconds`, with the idle second before it. */
  cpu(seconds: number): CpuReport {
    const snaps = modelledSnapshots(this.cores, seconds + 1, this.epochMs);
    return cpuReport(snaps.slice(1), [snaps[0] as ProcStatSnapshot, snaps[1] as ProcStatSnapshot]);
  }

  /**
   * What a host agent adds: its NIC over the idle second before the test (a quiet node) and over
   * the test (the test's own traffic, `bitsPerSecond`, out and in). Pod agents report none.
   */
  nic(mode: NetworkMode, seconds: number, bitsPerSecond: number): { nic?: NicReport } {
    if (mode !== 'host') return {};
    const start = this.epochMs + 1000;
    return {
      nic: {
        interface: 'eth0',
        idle: { startMs: this.epochMs, endMs: start, rxBitsPerSecond: 212_000, txBitsPerSecond: 96_000 },
        test: { startMs: start, endMs: start + seconds * 1000, rxBitsPerSecond: bitsPerSecond, txBitsPerSecond: bitsPerSecond },
      },
    };
  }

  /** A `cpu-sample` answer's window (sent only if the aggregator samples idle CPU). */
  cpuWindow(): CpuWindow {
    return this.cpu(1).test;
  }

  /** A throughput test's `result` frame of `role`, `seconds` long, ending now, from an agent of `mode`. */
  throughput(mode: NetworkMode, role: 'client' | 'server', protocol: Protocol, seconds: number, testId: string, resultId: string): string {
    const key = `throughput/${mode}/${role}/${protocol}/${seconds}`;
    let body = this.bodies.get(key);
    if (body === undefined) {
      const iperf = this.iperf[role][protocol];
      body = JSON.stringify({ iperf, cpu: this.cpu(seconds), ...this.nic(mode, seconds, iperf.receivedBitsPerSecond) }).slice(1);
      this.bodies.set(key, body);
    }
    return this.frame(role, seconds, testId, resultId, body);
  }

  /** A latency test's client `result` frame (sockperf's report, and connect times when asked). */
  latencyClient(mode: NetworkMode, protocol: Protocol, seconds: number, connectSamples: number, testId: string, resultId: string): string {
    const key = `latency/${mode}/${protocol}/${seconds}/${connectSamples}`;
    let body = this.bodies.get(key);
    if (body === undefined) {
      // Connect times like a same-zone pair's: 60 µs and up.
      const connect =
        protocol === 'tcp' && connectSamples > 0
          ? connectStats(
              Array.from({ length: connectSamples }, (_, k) => 60 + 3 * k),
              0,
            )
          : undefined;
      body = JSON.stringify({
        latency: { ...this.latency[protocol], ...(connect ? { connect } : {}) },
        cpu: this.cpu(seconds),
        ...this.nic(mode, seconds, 1_000_000),
      }).slice(1);
      this.bodies.set(key, body);
    }
    return this.frame('client', seconds, testId, resultId, body);
  }

  private frame(role: 'client' | 'server', seconds: number, testId: string, resultId: string, body: string): string {
    const end = Date.now();
    // Ids are the aggregator's UUIDs and our own counters: nothing in them needs escaping.
    return `{"type":"result","resultId":"${resultId}","testId":"${testId}","role":"${role}","startedAtMs":${end - seconds * 1000},"endedAtMs":${end},"ok":true,${body}`;
  }
}
