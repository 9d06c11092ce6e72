/**
 * What the scheduler is told: every setting required, mapped once from the aggregator's config
 * (`schedulerSettings` in aggregator/config.ts), so the config's defaults are the only defaults.
 */
import type { Path, Protocol } from '../../shared/protocol.js';
import type { QuietHours } from './pacing.js';

/** full: every ordered pair; budget: zones, reference peers and a cross-zone sample; auto: full up to `coverageFullMaxNodes`. */
export type CoverageMode = 'full' | 'budget' | 'auto';

export interface SchedulerSettings {
  /** Run the background sweep; on-demand runs run either way. */
  continuous: boolean;
  paths: readonly Path[];
  protocols: readonly Protocol[];
  durationSeconds: number;
  /** Bits per second; 0 = uncapped. */
  tcpBitrate: number;
  udpBitrate: number;
  streams: number;
  concurrency: number;
  pauseMs: number;
  /** Latency rounds after each throughput round in the background sweep; 0 = no latency tests. */
  latencyRounds: number;
  latencyDurationSeconds: number;
  latencyMessageSizeBytes: number;
  latencyMessagesPerSecond: number;
  latencyConnectSamples: number;
  coverage: CoverageMode;
  /** auto: full coverage up to this many nodes on a path, budget above. */
  coverageFullMaxNodes: number;
  /** Budget mode: fixed peers in other zones each node is measured against, both ways. */
  referencePeers: number;
  /** Budget mode: other-zone peers per node in each rotation of the cross-zone sample. */
  crossZonePeers: number;
  /** Background tests started in any hour across the cluster, paced evenly; 0 = unlimited. */
  testsPerHour: number;
  /** Bytes through any one node (sent + received) by background tests in any hour; 0 = unlimited. */
  nodeBytesPerHour: number;
  /** What an uncapped TCP test is assumed to move per second, for the byte budget, until its result says. */
  assumedTcpBitsPerSecond: number;
  /** A daily UTC window with no background tests. */
  quietHours: QuietHours | null;
  /** Pauses between background rounds vary at random by up to this many percent either way. */
  pauseJitterPercent: number;
  /** A node whose idle CPU before a test was above this (%) rests from background tests; 0 = never. */
  busyNodeCpuPercent: number;
  /** A node whose NIC carried more than this (bits/s, either way) before a test rests too; 0 = never. */
  busyNodeNicBitsPerSecond: number;
  busyNodeRestSeconds: number;
}
