import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from '../../shared/backoff.js';

const o = (random: () => number) => ({ initialMs: 500, maxMs: 30_000, random });

/** A fixed sequence, so a "random" run replays exactly. */
function sequence(values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length] as number;
}

describe('backoffDelayMs', () => {
  it('doubles the base with each attempt until it reaches the cap', () => {
    const top = (attempt: number) =>
      backoffDelayMs(
        attempt,
        o(() => 1),
      );
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8].map(top)).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('stays within [base/2, base] for every attempt', () => {
    for (let attempt = 0; attempt < 40; attempt++) {
      const base = Math.min(30_000, 500 * 2 ** attempt);
      for (const r of [0, 0.25, 0.5, 0.999_999]) {
        const d = backoffDelayMs(
          attempt,
          o(() => r),
        );
        expect(d).toBeGreaterThanOrEqual(base / 2);
        expect(d).toBeLessThanOrEqual(base);
      }
      expect(
        backoffDelayMs(
          attempt,
          o(() => 0),
        ),
      ).toBe(base / 2);
    }
  });

  it('stays at the cap, finite, for very large attempt numbers', () => {
    expect(
      backoffDelayMs(
        10_000,
        o(() => 0),
      ),
    ).toBe(15_000);
    expect(
      backoffDelayMs(
        Number.MAX_SAFE_INTEGER,
        o(() => 0.5),
      ),
    ).toBe(22_500);
  });

  it('returns the same delays for the same random sequence', () => {
    const run = () => {
      const random = sequence([0.1, 0.9, 0.42, 0.7]);
      return Array.from({ length: 12 }, (_, attempt) => backoffDelayMs(attempt, o(random)));
    };
    expect(run()).toEqual(run());
    expect(run().slice(0, 2)).toEqual([275, 950]);
  });

  it('spreads agents that reconnect together (different random draws give different delays)', () => {
    const delays = new Set(
      [0, 0.2, 0.4, 0.6, 0.8].map((r) =>
        backoffDelayMs(
          5,
          o(() => r),
        ),
      ),
    );
    expect(delays.size).toBe(5);
  });

  it('returns whole milliseconds', () => {
    expect(Number.isInteger(backoffDelayMs(0, { initialMs: 333, maxMs: 1000, random: () => 0.123 }))).toBe(true);
  });
});
