/**
 * Busy-node rests: a node whose idle CPU or NIC just before a test says it is busy with real
 * work sits out background tests for a while. Pure: times are passed in (ms since the epoch).
 */
import type { TestResult } from '../../shared/result.js';

/** What says a node is busy, as logged when it starts to rest. */
export type BusyWith = { idleCpuPercent: number } | { idleNicBitsPerSecond: number };

/** A node that has just started (or restarted) its rest. */
export interface RestStarted {
  node: string;
  busy: BusyWith;
  restSeconds: number;
  /** False when the node was resting already and its rest was only extended. */
  fresh: boolean;
}

export interface RestLimits {
  /** Idle CPU (%) above which a node rests; 0 = not checked. */
  cpuPercent: number;
  /** Idle NIC bits/s (either way) above which a node rests; 0 = not checked. */
  nicBitsPerSecond: number;
  restSeconds: number;
}

export class Rests {
  /** Nodes resting from background tests, until when (ms). */
  private readonly until = new Map<string, number>();
  /**
   * When each node's last test window closed, by that node's own clock (ms). An idle window
   * that began before it measured the tail of our own test, not the node's work: it is ignored.
   * The agent cannot tell this itself when the previous test ran on the node's other agent.
   */
  private readonly lastTestEndMs = new Map<string, number>();

  constructor(private readonly limits: RestLimits) {}

  /** Whether `node` may take a background test at `now`. */
  available(node: string, now: number): boolean {
    return (this.until.get(node) ?? 0) <= now;
  }

  /** Nodes resting at `now` (forgetting rests that are over). */
  resting(now: number): number {
    for (const [node, until] of this.until) if (until <= now) this.until.delete(node);
    return this.until.size;
  }

  /** Read a result's idle windows: rest each side that was busy; returns the rests it started. */
  record(r: TestResult, now: number): RestStarted[] {
    const { cpuPercent, nicBitsPerSecond, restSeconds } = this.limits;
    if (cpuPercent <= 0 && nicBitsPerSecond <= 0) return [];
    const started: RestStarted[] = [];
    for (const side of [r.source, r.target]) {
      const busy = busyWith(side, this.lastTestEndMs.get(side.node) ?? 0, this.limits);
      // The CPU test window ends where iperf3 stopped measuring, before its process exited; the
      // NIC window (the whole run, host agents only) and the client's process end (endedAt)
      // cover the rest. endedAt is by the client's clock; the server exits a few ms after it,
      // so on the server's node it is as good as the two nodes' clocks agree.
      const ended = Math.max(side.cpu?.test.endMs ?? 0, side.nic?.test.endMs ?? 0, Date.parse(r.endedAt) || 0);
      if (ended > 0) this.lastTestEndMs.set(side.node, Math.max(ended, this.lastTestEndMs.get(side.node) ?? 0));
      if (!busy) continue;
      started.push({ node: side.node, busy, restSeconds, fresh: (this.until.get(side.node) ?? 0) < now });
      this.until.set(side.node, now + restSeconds * 1000);
    }
    return started;
  }
}

/**
 * What says a node is busy with real work, from one side of a test: its idle CPU or NIC just
 * before the test above the limit (0 = not checked). Windows that began before `sinceMs`, the
 * end of the node's previous test, are not evidence.
 */
function busyWith(side: TestResult['source'], sinceMs: number, limits: RestLimits): BusyWith | undefined {
  const cpu = side.cpu?.idle;
  if (limits.cpuPercent > 0 && cpu && cpu.startMs >= sinceMs && cpu.busyPercent > limits.cpuPercent) {
    return { idleCpuPercent: cpu.busyPercent };
  }
  const nic = side.nic?.idle;
  const bits = nic ? Math.max(nic.rxBitsPerSecond, nic.txBitsPerSecond) : 0;
  if (limits.nicBitsPerSecond > 0 && nic && nic.startMs >= sinceMs && bits > limits.nicBitsPerSecond) {
    return { idleNicBitsPerSecond: bits };
  }
  return undefined;
}
