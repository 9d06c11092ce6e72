/**
 * The latency test kind: request/response round trips measured by sockperf 3.7. Its spec
 * schema, bounds, defaults and traits; the argv builders and the report parser are
 * shared/sockperf.ts.
 */
import { z } from 'zod';
import { checkLatencySpec } from '../limits.js';
import { SOCKPERF_CLIENT_OVERHEAD_MS, SOCKPERF_MIN_MESSAGE_BYTES } from '../sockperf.js';
import { ProtocolSchema, type TestKindModule } from './common.js';

/** Longest latency test, s: the REST body, the sweep's setting and the agent's max. */
export const MAX_LATENCY_DURATION_SECONDS = 600;
/** Largest payload a latency spec may ask for (below sockperf's own 65,507). */
export const MAX_LATENCY_MESSAGE_BYTES = 65_000;
/** Most request/response exchanges per second a latency spec may ask for. */
export const MAX_LATENCY_MESSAGES_PER_SECOND = 100_000;
/** Most TCP connections a latency test may time before it measures. */
export const MAX_LATENCY_CONNECT_SAMPLES = 1000;

/**
 * What the client side of a latency test runs: the knobs of `sockperf ping-pong`. The load is
 * messageSizeBytes * messagesPerSecond each way (64 B at 1000/s is 0.5 Mbit/s).
 */
export const LatencySpecSchema = z.strictObject({
  kind: z.literal('latency'),
  protocol: ProtocolSchema,
  /** sockperf `-t`: whole seconds of measurement (sockperf adds its warm-up before). */
  durationSeconds: z.number().int().min(1).max(MAX_LATENCY_DURATION_SECONDS),
  /** sockperf `-m`: payload bytes per message; sockperf's minimum is 14. */
  messageSizeBytes: z.number().int().min(SOCKPERF_MIN_MESSAGE_BYTES).max(MAX_LATENCY_MESSAGE_BYTES),
  /** sockperf `--mps`: request/response exchanges per second. */
  messagesPerSecond: z.number().int().min(1).max(MAX_LATENCY_MESSAGES_PER_SECOND),
  /** TCP only: connections opened and closed one after another first, to time connection setup; 0 = none. */
  connectSamples: z.number().int().min(0).max(MAX_LATENCY_CONNECT_SAMPLES),
});
export type LatencySpec = z.infer<typeof LatencySpecSchema>;

export const latencyKind: TestKindModule<LatencySpec> = {
  kind: 'latency',
  tool: 'sockperf',
  maxDurationSeconds: MAX_LATENCY_DURATION_SECONDS,
  defaults: { durationSeconds: 2 },
  // sockperf has no one-shot mode: its server answers until cancelled and owes no result.
  serverExits: false,
  cpuMeaningful: false,
  codes: { badOutput: 'sockperf-bad-output', timeout: 'sockperf-timeout', spawnFailed: 'sockperf-spawn-failed', error: 'sockperf-error' },
  // A UDP sockperf server has no LISTEN state: its bound socket is what says it is ready.
  readyTransport: (spec) => spec.protocol,
  // sockperf spends a fixed warm-up and drain beyond its -t.
  runMs: (spec) => spec.durationSeconds * 1000 + SOCKPERF_CLIENT_OVERHEAD_MS,
  // Requests plus replies: each node sends and receives both. Warm-up not counted.
  bytesPerNode: (spec) => 2 * spec.messageSizeBytes * spec.messagesPerSecond * spec.durationSeconds,
  checkLimits: checkLatencySpec,
  hasReport: (client) => client.latency !== undefined,
};
