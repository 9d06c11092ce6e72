/**
 * Samples node CPU from /proc/stat, asynchronously (systeminformation's currentLoad forks a
 * shell per call, blocks the event loop and drops softirq). /proc/stat is not namespaced, so
 * inside a pod this is the node's CPU, which is what a dataplane comparison needs.
 */
import { readFile } from 'node:fs/promises';
import { cpuReport, cpuWindow, parseProcStat, type CpuReport, type CpuWindow, type ProcStatSnapshot } from '../shared/cpu.js';

export interface CpuSamplerOptions {
  read?: () => Promise<string>;
  now?: () => number;
  /** Interval between samples during a test and in the background, ms. */
  intervalMs?: number;
}

/** A test window being sampled; `stop()` closes it and returns the report. */
export interface CpuWindowHandle {
  stop(): Promise<CpuReport>;
}

export class CpuSampler {
  private readonly read: () => Promise<string>;
  private readonly now: () => number;
  private readonly intervalMs: number;
  /** Background snapshots, newest last; the idle baseline before a test is taken from here. */
  private recent: ProcStatSnapshot[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(o: CpuSamplerOptions = {}) {
    this.read = o.read ?? (() => readFile('/proc/stat', 'utf8'));
    this.now = o.now ?? Date.now;
    this.intervalMs = o.intervalMs ?? 1000;
  }

  async snapshot(): Promise<ProcStatSnapshot> {
    return parseProcStat(await this.read(), this.now());
  }

  /** Keep a short history of snapshots so a test's idle baseline costs no waiting. */
  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.snapshot()
        .then((s) => {
          this.recent.push(s);
          if (this.recent.length > 4) this.recent.shift();
        })
        .catch(() => undefined);
    };
    tick();
    this.timer = setInterval(tick, this.intervalMs);
    this.timer.unref();
  }

  stopBackground(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
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
    // Baseline: the newest background snapshot at least half an interval old, up to now.
    const base = [...this.recent].reverse().find((s) => first.atMs - s.atMs >= this.intervalMs / 2);
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
      stop: async () => {
        clearInterval(timer);
        await pending;
        during.push(await this.snapshot());
        return cpuReport(during, before);
      },
    };
  }
}
