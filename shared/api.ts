/**
 * REST bodies shared by the aggregator (which validates them) and the CLI (which sends them).
 */
import { z } from 'zod';
import type { Environment } from './environment.js';
import { PathSchema, ProtocolSchema, TestKindSchema } from './protocol.js';
import { MAX_STREAMS, MAX_THROUGHPUT_DURATION_SECONDS, ThroughputSpecSchema } from './kinds/throughput.js';
import type { RunSpec } from './results-file.js';

/**
 * Seconds an on-demand run's throughput tests omit when the request says nothing: TCP's slow
 * start and the first second's queue build-up are not the path's steady throughput. (The
 * background sweep omits none, so its series keep their meaning.)
 */
export const DEFAULT_RUN_OMIT_SECONDS = 1;

/** POST /api/runs: an on-demand full matrix, labelled so two configurations can be compared. */
export const RunRequestSchema = z.strictObject({
  /** e.g. "iptables" or "ebpf-dsr". */
  label: z
    .string()
    .min(1)
    .max(63)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, dot, dash, underscore; starting with a letter or digit'),
  /** Throughput (iperf3), latency (sockperf) or both; default throughput. */
  kinds: z.array(TestKindSchema).min(1).max(2).optional(),
  paths: z.array(PathSchema).min(1).max(3).optional(),
  protocols: z.array(ProtocolSchema).min(1).max(2).optional(),
  /** Of the throughput tests (latency tests take the aggregator's). */
  durationSeconds: z.number().int().min(1).max(MAX_THROUGHPUT_DURATION_SECONDS).optional(),
  streams: z.number().int().min(1).max(MAX_STREAMS).optional(),
  /** Measure each pair this many times (passes over the whole matrix, so drift spreads evenly). */
  repeat: z.number().int().min(1).max(100).optional(),
  /** Total over the streams, bits/s; 0 = unlimited. Default: the aggregator's. */
  tcpBitrateBitsPerSecond: z.number().int().min(0).optional(),
  /**
   * Total over the streams, bits/s; 0 = unlimited (iperf3 `-b 0`: as fast as the sender can,
   * losses and all). Default: the aggregator's cap. Agents with a bitrate cap refuse 0.
   */
  udpBitrateBitsPerSecond: z.number().int().min(0).optional(),
  /** iperf3 `-O`: seconds each throughput test runs first and leaves out of its figures; default DEFAULT_RUN_OMIT_SECONDS. */
  omitSeconds: ThroughputSpecSchema.shape.omitSeconds,
});
export type RunRequest = z.infer<typeof RunRequestSchema>;

export const RunStatusSchema = z.enum(['queued', 'running', 'done']);

/** GET /api/runs/:id (without results). */
export interface RunSummary {
  id: string;
  label: string;
  status: z.infer<typeof RunStatusSchema>;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  /** The effective spec (request merged with the aggregator's defaults). */
  spec: RunSpec;
  /** Nodes, their facts and idle CPU, and the detected dataplane, captured when the run started. */
  environment: Environment | null;
  /** Tests planned, finished (ok or not), failed. */
  total: number;
  done: number;
  failed: number;
  /** The test running now. */
  current: { kind: string; path: string; protocol: string; source: string; target: string } | null;
}
