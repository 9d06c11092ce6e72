/** Test specs: a plain 10 s single-stream uncapped TCP iperf3 test, with what a test changes. */
import type { ThroughputSpec } from '../../shared/protocol.js';

export function throughputSpec(o: Partial<ThroughputSpec> = {}): ThroughputSpec {
  return { kind: 'throughput', protocol: 'tcp', durationSeconds: 10, bitrateBitsPerSecond: 0, streams: 1, reverse: false, ...o };
}
