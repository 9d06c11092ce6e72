/**
 * How stale the background matrix is: the age of the least recently measured pair, and of the
 * median one, over the pairs the sweep covers. A pair never measured counts from when it became
 * a candidate (both of its nodes present), so a node that has just joined does not look stale.
 */

export interface StalenessFigures {
  /** Candidate pairs: every ordered pair in full mode, the budget mode's candidates otherwise. */
  pairs: number;
  /** Candidates measured at least once since they became candidates. */
  measured: number;
  neverMeasured: number;
  /** Age of the least recently measured candidate, seconds (0 without candidates). */
  maxSeconds: number;
  /** Age of the median candidate, seconds. */
  medianSeconds: number;
}

export const NO_PAIRS: StalenessFigures = { pairs: 0, measured: 0, neverMeasured: 0, maxSeconds: 0, medianSeconds: 0 };

/** The reference times (ms) of the oldest and of the median candidate; undefined without candidates. */
export interface ReferenceTimes {
  oldest: number | undefined;
  median: number | undefined;
}

/**
 * The oldest and median reference times (last measured, or when they became candidates) of
 * `pairs` candidates, given oldest first as runs of equal time: `runs` yields [time ms, count].
 */
export function referenceTimes(runs: Iterable<readonly [number, number]>, pairs: number): ReferenceTimes {
  // The median is the candidate at rank ⌊(pairs-1)/2⌋ counting from the oldest.
  const medianRank = Math.floor((pairs - 1) / 2);
  let oldest: number | undefined;
  let seen = 0;
  for (const [at, count] of runs) {
    if (count <= 0) continue;
    oldest ??= at;
    seen += count;
    if (seen > medianRank) return { oldest, median: at };
  }
  return { oldest, median: undefined };
}

/** The figures at `now` from the reference times. */
export function stalenessAt(times: ReferenceTimes, pairs: number, measured: number, now: number): StalenessFigures {
  if (pairs <= 0) return NO_PAIRS;
  const age = (at: number | undefined) => Math.max(0, (now - (at ?? now)) / 1000);
  return { pairs, measured, neverMeasured: pairs - measured, maxSeconds: age(times.oldest), medianSeconds: age(times.median) };
}
