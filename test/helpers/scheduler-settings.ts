/**
 * Scheduler settings for tests and the simulation: one path and protocol, no background limits
 * (full coverage, no budgets, quiet hours, jitter or rests), each test overriding what it is about.
 */
import type { SchedulerSettings } from '../../aggregator/planning/settings.js';

export function schedulerTestSettings(over: Partial<SchedulerSettings> = {}): SchedulerSettings {
  return {
    continuous: true,
    paths: ['node'],
    protocols: ['tcp'],
    durationSeconds: 10,
    tcpBitrate: 0,
    udpBitrate: 1_000_000_000,
    streams: 1,
    concurrency: 1,
    pauseMs: 0,
    latencyRounds: 0,
    latencyDurationSeconds: 1,
    latencyMessageSizeBytes: 64,
    latencyMessagesPerSecond: 1000,
    latencyConnectSamples: 0,
    coverage: 'full',
    coverageFullMaxNodes: 20,
    referencePeers: 3,
    crossZonePeers: 1,
    testsPerHour: 0,
    nodeBytesPerHour: 0,
    assumedTcpBitsPerSecond: 10_000_000_000,
    quietHours: null,
    pauseJitterPercent: 0,
    busyNodeCpuPercent: 0,
    busyNodeNicBitsPerSecond: 0,
    busyNodeRestSeconds: 600,
    ...over,
  };
}
