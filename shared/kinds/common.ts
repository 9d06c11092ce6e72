/**
 * What every test kind is made of (the `TestKind` interface a kind module implements) and the
 * transport enum specs share. A leaf: shared/protocol.ts builds its messages from the kinds, so
 * nothing here may import it at run time (types only).
 */
import { z } from 'zod';
import type { ErrorCode, Failure } from '../errors.js';
import type { AgentLimits, ResultMessage } from '../protocol.js';

/** The transport a test runs over. */
export const ProtocolSchema = z.enum(['tcp', 'udp']);
export type Protocol = z.infer<typeof ProtocolSchema>;

/** The fields every kind's spec has: its discriminant, transport and measured seconds. */
export interface BaseSpec {
  kind: string;
  protocol: Protocol;
  durationSeconds: number;
}

/** The catalogue codes a kind's tool fails with: a latency test never fails with iperf3's. */
export interface KindFailureCodes {
  /** The tool printed no report it could parse (or none at all). */
  badOutput: ErrorCode;
  /** The agent killed the tool at its deadline. */
  timeout: ErrorCode;
  /** The agent could not start the tool. */
  spawnFailed: ErrorCode;
  /** A failed side sent no error of its own. */
  error: ErrorCode;
}

/**
 * One measuring tool as netmatrix drives it: the spec schema (with its `kind` literal), its
 * bounds, and the traits the aggregator's runTest and the agent read instead of branching on
 * the kind. The argv builders and the pure parser sit beside it (shared/iperf3.ts, ...).
 */
export interface TestKindModule<S extends BaseSpec> {
  readonly kind: S['kind'];
  /** The tool the agent runs, as in its messages ("this agent has no sockperf"). */
  readonly tool: string;
  /** Longest `durationSeconds` the REST body, the CLI, the aggregator config and the agent's max accept. */
  readonly maxDurationSeconds: number;
  /** The values a spec gets from configuration when nothing says otherwise. */
  readonly defaults: { durationSeconds: number };
  /**
   * Whether the server ends on its own after its one test and owes a result (iperf3 `-s -1`);
   * false when it runs until cancelled and owes one only when it fails (sockperf).
   */
  readonly serverExits: boolean;
  /** Whether node CPU per byte moved means anything for this kind (a latency test moves next to nothing). */
  readonly cpuMeaningful: boolean;
  readonly codes: KindFailureCodes;
  /** The transport whose listening socket says the server is ready. */
  readyTransport(spec: S): Protocol;
  /** How long the client runs, ms, from start to report: warm-up and omitted seconds included. */
  runMs(spec: S): number;
  /** Bytes one test moves through each of its two nodes (payload only), for the byte budget. */
  bytesPerNode(spec: S, uncappedTcpBitsPerSecond: number): number;
  /** The agent's limits policy: why `spec` exceeds `limits`, or undefined. */
  checkLimits(limits: AgentLimits, spec: S): Failure | undefined;
  /** Whether the client's result carries this kind's report (the test measured something). */
  hasReport(client: Pick<ResultMessage, 'iperf' | 'latency'>): boolean;
}
