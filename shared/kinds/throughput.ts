/**
 * The throughput test kind: bulk transfer measured by iperf3 3.12. Its spec schema, bounds,
 * defaults and traits; the argv builders and the report parser are shared/iperf3.ts.
 */
import { z } from 'zod';
import { checkSpec } from '../limits.js';
import { iperf3RunSeconds } from '../iperf3.js';
import { ProtocolSchema, type TestKindModule } from './common.js';

/** Longest throughput test, s: the REST body, `run --duration`, the sweep's setting and the agent's max. */
export const MAX_THROUGHPUT_DURATION_SECONDS = 3600;
/** Most parallel iperf3 streams (`-P`) a spec may ask for. */
export const MAX_STREAMS = 128;
/** Most seconds a throughput test may omit (iperf3 `-O`): warm-up, not a second test. */
export const MAX_OMIT_SECONDS = 60;

/** What the client side of a throughput test runs: the knobs of `iperf3 -c`. */
export const ThroughputSpecSchema = z.strictObject({
  kind: z.literal('throughput'),
  protocol: ProtocolSchema,
  /** iperf3 `-t`: whole seconds (a fraction or 0 would make iperf3 run forever). */
  durationSeconds: z.number().int().min(1).max(MAX_THROUGHPUT_DURATION_SECONDS),
  /** Total target bitrate over all streams; 0 = unlimited (iperf3 `-b 0`). */
  bitrateBitsPerSecond: z.number().int().min(0),
  streams: z.number().int().min(1).max(MAX_STREAMS),
  /** iperf3 `-R`: the server sends, the client receives. */
  reverse: z.boolean(),
  /**
   * iperf3 `-O`: seconds run before `durationSeconds` and left out of the report (TCP slow
   * start, queues filling), so the test runs for both. Optional: absent (specs from before it,
   * and the aggregator's for 0) means 0.
   */
  omitSeconds: z.number().int().min(0).max(MAX_OMIT_SECONDS).optional(),
});
export type ThroughputSpec = z.infer<typeof ThroughputSpecSchema>;

export const throughputKind: TestKindModule<ThroughputSpec> = {
  kind: 'throughput',
  tool: 'iperf3',
  maxDurationSeconds: MAX_THROUGHPUT_DURATION_SECONDS,
  defaults: { durationSeconds: 10 },
  // `iperf3 -s -1` exits after its one test with a report of its own.
  serverExits: true,
  cpuMeaningful: true,
  codes: { badOutput: 'iperf3-bad-output', timeout: 'iperf3-timeout', spawnFailed: 'iperf3-spawn-failed', error: 'iperf3-error' },
  // iperf3's control connection is TCP even for a UDP test.
  readyTransport: () => 'tcp',
  // iperf3 runs the omitted seconds before the measured ones.
  runMs: (spec) => iperf3RunSeconds(spec) * 1000,
  // Bitrate × run (omitted seconds move data too), sent by one node and received by the other,
  // with `uncappedTcpBitsPerSecond` standing in for a test without a cap.
  bytesPerNode: (spec, uncapped) => ((spec.bitrateBitsPerSecond > 0 ? spec.bitrateBitsPerSecond : uncapped) * iperf3RunSeconds(spec)) / 8,
  checkLimits: checkSpec,
  hasReport: (client) => client.iperf !== undefined,
};
