/**
 * A progress line for long runs: tests done / total, the current test's kind and pair, elapsed
 * and an estimate. Redrawn in place on a terminal; on a pipe, one line whenever a test finishes.
 */
import type { RunSummary } from '../shared/api.js';

function clock(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, '0')}`;
}

/** One progress line; pure, for tests. */
export function progressLine(run: RunSummary, elapsedMs: number, width = 24): string {
  const frac = run.total > 0 ? run.done / run.total : 0;
  const filled = Math.round(frac * width);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
  const eta = run.done > 0 && run.done < run.total ? ` eta ${clock((elapsedMs / run.done) * (run.total - run.done))}` : '';
  const c = run.current;
  const cur = c ? `  ${c.kind} ${c.path} ${c.protocol} ${c.source} -> ${c.target}` : '';
  const failed = run.failed > 0 ? `  ${run.failed} failed` : '';
  return `${bar} ${run.done}/${run.total} tests${cur}  elapsed ${clock(elapsedMs)}${eta}${failed}`;
}

export class Progress {
  private lastDone = -1;
  private lastLength = 0;

  constructor(
    private readonly write: (s: string) => void,
    private readonly tty: boolean,
  ) {}

  update(run: RunSummary, elapsedMs: number): void {
    const line = progressLine(run, elapsedMs);
    if (this.tty) {
      this.write(`\r${line.padEnd(this.lastLength)}`);
      this.lastLength = line.length;
    } else if (run.done !== this.lastDone) {
      this.write(`${line}\n`);
    }
    this.lastDone = run.done;
  }

  end(): void {
    if (this.tty && this.lastLength > 0) this.write('\n');
  }
}
