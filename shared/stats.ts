/** Small order statistics, shared by metrics, results files and compare. */

/** Linear-interpolated quantile (q in 0..1) of a non-empty list; undefined for an empty one. */
export function quantile(xs: readonly number[], q: number): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = s[lo] as number;
  const b = s[hi] as number;
  return a + (b - a) * (pos - lo);
}

export function median(xs: readonly number[]): number | undefined {
  return quantile(xs, 0.5);
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function spread(xs: readonly number[]): Spread | null {
  if (xs.length === 0) return null;
  // A loop, not Math.min(...xs): spreading passes every value as an argument, and past about
  // 120,000 of them (a path of a 1,000-node full mesh has 999,000 pairs) that throws a RangeError.
  let min = Infinity;
  let max = -Infinity;
  for (const x of xs) {
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return { median: median(xs) as number, min, max };
}
