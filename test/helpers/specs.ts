/** Test specs: plain iperf3 and sockperf tests, with what a test changes. */
import type { LatencySpec, ThroughputSpec } from '../../shared/protocol.js';

export function throughputSpec(o: Partial<ThroughputSpec> = {}): ThroughputSpec {
  return { kind: 'throughput', protocol: 'tcp', durationSeconds: 10, bitrateBitsPerSecond: 0, streams: 1, reverse: false, ...o };
}

/** A 2 s UDP sockperf test at 1000 64-byte messages a second. */
export function latencySpec(o: Partial<LatencySpec> = {}): LatencySpec {
  return { kind: 'latency', protocol: 'udp', durationSeconds: 2, messageSizeBytes: 64, messagesPerSecond: 1000, connectSamples: 0, ...o };
}
