/**
 * The draws and order statistics under compare's statistics: Hodges-Lehmann, the exact
 * Mann-Whitney count behind the Moses interval, quantiles, and normal and chi-square draws from
 * a seeded generator. Pure.
 */

/** The standard normal's 97.5 % quantile: a two-sided 95 % interval. */
export const Z_975 = 1.959964;

/** Median of all pairwise (Walsh) averages, i <= j. */
export function hodgesLehmann(xs: readonly number[]): number {
  const n = xs.length;
  const walsh = new Float64Array((n * (n + 1)) / 2);
  let w = 0;
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) walsh[w++] = ((xs[i] as number) + (xs[j] as number)) / 2;
  return medianOfTyped(walsh);
}

/** Median of a typed array, sorted in place (the bootstrap's inner loop: no copies). */
export function medianOfTyped(xs: Float64Array): number {
  xs.sort();
  const mid = xs.length >> 1;
  return xs.length % 2 === 1 ? (xs[mid] as number) : ((xs[mid - 1] as number) + (xs[mid] as number)) / 2;
}

/**
 * The largest k such that P(U < k) <= alpha/2 under no shift, for samples of m and n: the
 * Moses interval is then [D(k), D(mn+1-k)] of the sorted differences (1-based). null when even
 * k = 0 is too likely (the samples are too small for this confidence). Exact up to 30 a side, a
 * normal approximation beyond.
 */
export function mannWhitneyLowerCount(m: number, n: number, alpha: number): number | null {
  if (m > 30 || n > 30) {
    const k = Math.floor((m * n) / 2 - Z_975 * Math.sqrt((m * n * (m + n + 1)) / 12));
    return k >= 1 ? k : null;
  }
  const counts = uDistribution(m, n);
  const total = counts.reduce((s, c) => s + c, 0);
  let cumulative = 0;
  let k = 0;
  while (k < counts.length && (cumulative + (counts[k] as number)) / total <= alpha / 2) {
    cumulative += counts[k] as number;
    k++;
  }
  return k >= 1 ? k : null;
}

/** counts[u] = number of arrangements of m and n with Mann-Whitney U = u (recursion on the largest element). */
function uDistribution(m: number, n: number): number[] {
  // f[i][j][u]: arrangements of i x's and j y's with U = u.
  let prev: number[][] = [];
  for (let i = 0; i <= m; i++) {
    const row: number[][] = [];
    for (let j = 0; j <= n; j++) {
      if (i === 0 || j === 0) {
        row.push([1]);
        continue;
      }
      // The largest is a y (adds i to U: it beats every x) or an x (adds nothing).
      const withY = (row[j - 1] as number[]).map((c) => c);
      const shifted = new Array<number>(i).fill(0).concat(withY);
      const withX = prev[j] as number[];
      const len = Math.max(shifted.length, withX.length);
      row.push(Array.from({ length: len }, (_, u) => (shifted[u] ?? 0) + (withX[u] ?? 0)));
    }
    if (i === m) return row[n] as number[];
    prev = row;
  }
  return [1];
}

export function quantileSorted(sorted: Float64Array, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo);
}

/** A standard normal draw (Box-Muller). */
export function normal(rng: () => number): number {
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** A chi-square draw with `df` degrees of freedom: 2 x Gamma(df/2), Marsaglia-Tsang. */
export function chiSquare(rng: () => number, df: number): number {
  return 2 * gamma(rng, df / 2);
}

function gamma(rng: () => number, shape: number): number {
  if (shape < 1) return gamma(rng, shape + 1) * Math.pow(1 - rng(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - rng();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}
