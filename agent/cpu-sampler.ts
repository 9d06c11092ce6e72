/**
 * Samples node CPU from /proc/stat, asynchronously (systeminformation's currentLoad forks a
 * shell per call, blocks the event loop and drops softirq). /proc/stat is not namespaced, so
 * inside a pod this is the node's CPU, which is what a dataplane comparison needs; unless
 * LXCFS, gVisor or Kata give the pod its own, which the hello's procStat reading lets the
 * aggregator detect (sameProcStat in shared/cpu.ts).
 */
import { readFile } from 'node:fs/promises';
import {
  cpuReport,
  cpuWindow,
  parseProcStat,
  type CpuReport,
  type CpuWindow,
  type MeasuredInterval,
  type ProcStatSnapshot,
} from '../shared/cpu.js';
import { SnapshotHistory } from './snapshot-history.js';

export interface CpuSamplerOptions {
  read?: () => Promise<string>;
  now?: () => number;
  /** Interval between samples during a test and in the background, ms. */
  intervalMs?: number;
}

/**
 * A test window being sampled; `stop()` closes it and returns the report, its test window
 * trimmed to the snapshots that bound `measured` (the interval the tool measured) when given.
 */
export interface CpuWindowHandle {
  stop(measured?: MeasuredInterval): Promise<CpuReport>;
}

export class CpuSampler {
  private readonly read: () => Promise<string>;
  private readonly now: () => number;
  private readonly intervalMs: number;
  /** Background snapshots; the idle baseline before a test is taken from here. */
  private readonly history: SnapshotHistory<ProcStatSnapshot>;

  constructor(o: CpuSamplerOptions = {}) {
    this.read = o.read ?? (() => readFile('/proc/stat', 'utf8'));
    this.now = o.now ?? Date.now;
    this.intervalMs = o.intervalMs ?? 1000;
    this.history = new SnapshotHistory(() => this.snapshot(), this.intervalMs);
  }

  async snapshot(): Promise<ProcStatSnapshot> {
    return parseProcStat(await this.read(), this.now());
  }

  /** Keep a short history of snapshots so a test's idle baseline costs no waiting. */
  start(): void {
    this.history.start();
  }

  stopBackground(): void {
    this.history.stop();
  }

  /** The newest background snapshot (at most an interval old while started), if any yet. */
  latest(): ProcStatSnapshot | undefined {
    return this.history.latest();
  }

  /** The node's CPU over the next `ms` milliseconds (an idle baseline on request). */
  async measure(ms: number): Promise<CpuWindow> {
    const a = await this.snapshot();
    await new Promise((r) => setTimeout(r, ms));
    return cpuWindow(a, await this.snapshot());
  }

  /** Start sampling a test window now, at ~intervalMs resolution. */
  async begin(): Promise<CpuWindowHandle> {
    const first = await this.snapshot();
    const base = this.history.baselineFor(first);
    const before: [ProcStatSnapshot, ProcStatSnapshot] | undefined = base ? [base, first] : undefined;
    const during: ProcStatSnapshot[] = [first];
    let pending: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
      pending = this.snapshot().then(
        (s) => void during.push(s),
        () => undefined,
      );
    }, this.intervalMs);
    return {
      stop: async (measured) => {
        clearInterval(timer);
        await pending;
        const last = await this.snapshot();
        during.push(last);
        // The whole run, not the trimmed window: no baseline may reach into any of it.
        this.history.testEnded(last.atMs);
        return cpuReport(during, before, measured);
      },
    };
  }
}
