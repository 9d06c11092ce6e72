/**
 * Spec building (aggregator/planning/spec.ts), table-driven: what each test is sent, from the
 * scheduler's settings for the background sweep and from the request for an on-demand run; and
 * those settings, mapped once from the config with the config's defaults.
 */
import { describe, expect, it } from 'vitest';
import { loadAggregatorConfig, schedulerSettings } from '../../aggregator/config.js';
import { runSpecOf, specFor } from '../../aggregator/planning/spec.js';
import type { RunRequest } from '../../shared/api.js';
import type { Protocol, TestKind } from '../../shared/protocol.js';
import type { RunSpec } from '../../shared/results-file.js';
import { schedulerTestSettings } from '../helpers/scheduler-settings.js';

const configured = schedulerTestSettings({
  durationSeconds: 7,
  tcpBitrate: 5e8,
  udpBitrate: 3e8,
  streams: 2,
  latencyDurationSeconds: 3,
  latencyMessageSizeBytes: 200,
  latencyMessagesPerSecond: 500,
  latencyConnectSamples: 7,
});
const runOf = (req: Omit<RunRequest, 'label'>): RunSpec => runSpecOf({ label: 'x', ...req }, schedulerTestSettings());
const latency = { kind: 'latency', durationSeconds: 3, messageSizeBytes: 200, messagesPerSecond: 500 };

describe('specFor', () => {
  const cases: Array<{ name: string; kind: TestKind; protocol: Protocol; run?: RunSpec; expect: unknown }> = [
    {
      name: 'the sweep: configured duration, TCP cap and streams, no omit',
      kind: 'throughput',
      protocol: 'tcp',
      expect: { kind: 'throughput', protocol: 'tcp', durationSeconds: 7, bitrateBitsPerSecond: 5e8, streams: 2, reverse: false },
    },
    {
      name: 'the sweep: configured UDP rate',
      kind: 'throughput',
      protocol: 'udp',
      expect: { kind: 'throughput', protocol: 'udp', durationSeconds: 7, bitrateBitsPerSecond: 3e8, streams: 2, reverse: false },
    },
    {
      name: 'latency over TCP: connect samples',
      kind: 'latency',
      protocol: 'tcp',
      expect: { ...latency, protocol: 'tcp', connectSamples: 7 },
    },
    {
      name: 'latency over UDP: no connect samples',
      kind: 'latency',
      protocol: 'udp',
      expect: { ...latency, protocol: 'udp', connectSamples: 0 },
    },
    {
      name: 'a run: omits 1 s unless asked otherwise, UDP unlimited when asked (-b 0)',
      kind: 'throughput',
      protocol: 'udp',
      run: runOf({ udpBitrateBitsPerSecond: 0 }),
      expect: {
        kind: 'throughput',
        protocol: 'udp',
        durationSeconds: 10,
        bitrateBitsPerSecond: 0,
        streams: 1,
        reverse: false,
        omitSeconds: 1,
      },
    },
    {
      name: 'a run with omit 0: no omitSeconds at all, so agents from before it can take the test',
      kind: 'throughput',
      protocol: 'tcp',
      run: runOf({ omitSeconds: 0 }),
      expect: { kind: 'throughput', protocol: 'tcp', durationSeconds: 10, bitrateBitsPerSecond: 0, streams: 1, reverse: false },
    },
    {
      name: "a run's own duration, streams and TCP cap",
      kind: 'throughput',
      protocol: 'tcp',
      run: runOf({ durationSeconds: 3, streams: 4, tcpBitrateBitsPerSecond: 2e9, omitSeconds: 2 }),
      expect: {
        kind: 'throughput',
        protocol: 'tcp',
        durationSeconds: 3,
        bitrateBitsPerSecond: 2e9,
        streams: 4,
        reverse: false,
        omitSeconds: 2,
      },
    },
    {
      name: "a run's latency tests: the configured latency spec",
      kind: 'latency',
      protocol: 'tcp',
      run: runOf({}),
      expect: { ...latency, protocol: 'tcp', connectSamples: 7 },
    },
  ];
  it.each(cases)('$name', (c) => {
    const built = specFor(c.kind, c.protocol, configured, c.run);
    expect(built.kind).toBe(c.kind);
    expect(built.spec).toStrictEqual(c.expect);
  });
});

describe('runSpecOf', () => {
  it.each([
    {
      name: 'fills what the request leaves out from the settings, one pass of throughput tests omitting 1 s',
      req: {},
      expect: {
        kinds: ['throughput'],
        paths: ['node'],
        protocols: ['tcp'],
        durationSeconds: 10,
        repeat: 1,
        streams: 1,
        tcpBitrateBitsPerSecond: 0,
        udpBitrateBitsPerSecond: 1e9,
        omitSeconds: 1,
      },
    },
    {
      name: 'keeps what the request asks',
      req: {
        kinds: ['latency'],
        paths: ['pod'],
        protocols: ['udp'],
        durationSeconds: 3,
        repeat: 3,
        streams: 2,
        tcpBitrateBitsPerSecond: 1,
        udpBitrateBitsPerSecond: 0,
        omitSeconds: 0,
      },
      expect: {
        kinds: ['latency'],
        paths: ['pod'],
        protocols: ['udp'],
        durationSeconds: 3,
        repeat: 3,
        streams: 2,
        tcpBitrateBitsPerSecond: 1,
        udpBitrateBitsPerSecond: 0,
        omitSeconds: 0,
      },
    },
  ] as Array<{ name: string; req: Omit<RunRequest, 'label'>; expect: RunSpec }>)('$name', (c) => {
    expect(runOf(c.req)).toStrictEqual(c.expect);
  });
});

describe('schedulerSettings', () => {
  const load = (env: Record<string, string | undefined>) => schedulerSettings(loadAggregatorConfig({ NETMATRIX_TOKEN: 't', ...env }, []));
  it.each([
    {
      name: "the config's defaults are the scheduler's",
      env: {},
      expect: {
        continuous: true,
        paths: ['node', 'pod', 'service'],
        protocols: ['tcp', 'udp'],
        coverage: 'auto',
        coverageFullMaxNodes: 20,
        referencePeers: 3,
        crossZonePeers: 1,
        testsPerHour: 0,
        nodeBytesPerHour: 0,
        assumedTcpBitsPerSecond: 10_000_000_000,
        quietHours: null,
        pauseJitterPercent: 10,
        busyNodeRestSeconds: 600,
        latencyRounds: 2,
      },
    },
    {
      name: 'what the environment sets',
      env: {
        NETMATRIX_COVERAGE: 'budget',
        NETMATRIX_QUIET_HOURS: '22:00-02:00',
        NETMATRIX_TESTS_PER_HOUR: '60',
        NETMATRIX_CONCURRENCY: '4',
      },
      expect: { coverage: 'budget', quietHours: { startMinute: 22 * 60, endMinute: 120 }, testsPerHour: 60, concurrency: 4 },
    },
  ])('$name', (c) => {
    const settings = load(c.env);
    expect(settings).toMatchObject(c.expect);
    // Every setting is there: nothing is left for the scheduler to default.
    expect(Object.keys(settings).sort()).toEqual(Object.keys(schedulerTestSettings()).sort());
    expect(Object.values(settings).every((v) => v !== undefined)).toBe(true);
    expect(Object.isFrozen(settings)).toBe(true);
  });
});
