/**
 * Reconnect delays: exponential with full jitter, so agents that lost the aggregator together
 * do not come back in lockstep. `random` is a parameter so tests are deterministic.
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** Returns a number in [0, 1). */
  random: () => number;
}

/** Delay before reconnect attempt `attempt` (0-based): uniform in [base/2, base], base = min(max, initial * 2^attempt). */
export function backoffDelayMs(attempt: number, o: BackoffOptions): number {
  const base = Math.min(o.maxMs, o.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(base / 2 + (base / 2) * o.random());
}
