/**
 * Results not yet acknowledged by the aggregator. Kept in memory (the only state an agent
 * has) and sent again after every reconnect, so a result is delivered at least once; the
 * aggregator keeps it once by its resultId.
 */
import type { ResultMessage } from '../shared/protocol.js';

export class Outbox {
  private readonly pending = new Map<string, ResultMessage>();
  dropped = 0;

  constructor(private readonly capacity = 1000) {}

  add(r: ResultMessage): void {
    this.pending.set(r.resultId, r);
    // Bounded: an aggregator that stays away for days must not grow the agent without limit.
    while (this.pending.size > this.capacity) {
      const oldest = this.pending.keys().next().value as string;
      this.pending.delete(oldest);
      this.dropped++;
    }
  }

  ack(ids: readonly string[]): void {
    for (const id of ids) this.pending.delete(id);
  }

  /** Oldest first. */
  all(): ResultMessage[] {
    return [...this.pending.values()];
  }

  get size(): number {
    return this.pending.size;
  }
}
