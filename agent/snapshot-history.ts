/**
 * A short background history of snapshots (of /proc/stat, of /proc/net/dev), so that a test's
 * idle baseline costs no waiting. Shared by the CPU and NIC samplers.
 */
export class SnapshotHistory<T extends { atMs: number }> {
  /** Newest last; a few intervals are enough for any baseline. */
  private recent: T[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** When this agent's last test window closed: a baseline never reaches back into it. */
  private lastTestEndMs = 0;

  constructor(
    private readonly take: () => Promise<T>,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.take()
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

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * The start of the idle window that ends at `now`: the newest background snapshot at least
   * half an interval older, taken after this agent's last test ended (otherwise the window would
   * measure the tail of our own test, not the node's work). Undefined when there is none.
   */
  baselineFor(now: T): T | undefined {
    for (let i = this.recent.length - 1; i >= 0; i--) {
      const s = this.recent[i] as T;
      if (s.atMs < this.lastTestEndMs) return undefined;
      if (now.atMs - s.atMs >= this.intervalMs / 2) return s;
    }
    return undefined;
  }

  /** The newest background snapshot, if any yet. */
  latest(): T | undefined {
    return this.recent[this.recent.length - 1];
  }

  /** A test window closed at `atMs`. */
  testEnded(atMs: number): void {
    this.lastTestEndMs = Math.max(this.lastTestEndMs, atMs);
  }
}
