/**
 * The statistics behind compare's verdicts: how much one run's figure differs from the
 * baseline's, with a 95 % confidence interval, a three-state verdict against a practical
 * margin, and the smallest change the design could have detected. Pure: the only randomness
 * is a seeded generator, so the same inputs and seed give the same output.
 *
 * Paired design (both runs measured the same ordered pairs; the usual case):
 * - per pair and run, the median over the repetitions (on the log scale for ratio figures);
 *   per pair, d = median(B) - median(A); the effect is the Hodges-Lehmann estimate over pairs
 *   (the median of all pairwise averages of the d's; their median beyond HL_MAX_PAIRS pairs);
 * - the interval is a parametric bootstrap of the whole design: every repetition of every pair
 *   is drawn again around its pair's median with the cluster's test-to-test noise and a shift
 *   per pass (noiseModel, estimated from both runs together), the noise itself drawn from its
 *   sampling distribution (scaled chi-square with its degrees of freedom) so a small design
 *   pays for its uncertain noise as a t interval does; the estimator is applied to each
 *   replicate and the basic (pivotal) 95 % interval taken.
 * - The interval is conditional on the measured pairs: it covers the change on these pairs of
 *   this cluster, not on nodes that were not measured. That is also why pairs sharing a node
 *   need no correction: what is resampled is the noise of single tests, and the scheduler runs
 *   one test per node at a time. A change that hits one node hits every pair of that node, and
 *   is part of the effect, not of its noise.
 *
 * Unpaired design (the runs share no pair, e.g. two clusters): each run's per-pair medians are
 * two independent samples; the effect is the two-sample Hodges-Lehmann shift with its exact
 * (Mann-Whitney, Moses) interval. Pairs of one run that share a node are not independent, so
 * this interval is too narrow when nodes differ; the caveat says so.
 */
import { seededRandom } from '../../shared/random.js';
import { median } from '../../shared/stats.js';

/** Ratio figures (throughput, CPU, latency) compare as % change on the log scale; linear ones (loss) as differences. */
export type Scale = 'log' | 'linear';

export type Verdict = 'changed' | 'equivalent' | 'inconclusive';

/** One pair's values of one figure, index = pass (its i-th repetition in time), null where it has none. */
export type Passes = readonly (number | null)[];

/** One run's values of one figure: per ordered pair ("source>target"), its repetitions by pass. */
export type PairValues = ReadonlyMap<string, Passes>;

export interface EffectOptions {
  scale: Scale;
  /** Practical margin: a fraction for log figures (0.03 = +-3 %), the figure's own unit for linear ones. */
  margin: number;
  /** Bootstrap replicates. */
  replicates: number;
  seed: number;
}

export const DEFAULT_MARGIN = 0.03;
export const DEFAULT_REPLICATES = 1000;
export const DEFAULT_SEED = 1;
/** Two-sided confidence of every interval. */
export const CONFIDENCE = 0.95;
/** Repetition noise needs this many degrees of freedom per run before a paired interval is given. */
export const MIN_NOISE_DF = 3;
/** Hodges-Lehmann over more pairs than this costs O(n^2) per replicate: the median is used instead. */
export const HL_MAX_PAIRS = 100;
/** The unpaired method enumerates every difference; more than this and it refuses. */
const MAX_UNPAIRED_DIFFERENCES = 1_000_000;
/** z(0.975) and z(0.80): the MDE of a test at 95 % confidence with 80 % power. */
const Z_CONF = 1.959964;
const Z_POWER = 0.841621;

/** The comparison of one figure between a baseline run (A) and another run (B). */
export interface Effect {
  /** paired: the same ordered pairs in both runs; unpaired: no pair in common; none: nothing to compare. */
  method: 'paired' | 'unpaired' | 'none';
  estimator: 'hodges-lehmann' | 'median';
  /** Pairs the effect is computed from (paired: in both runs; unpaired: of run A and of run B). */
  pairsA: number;
  pairsB: number;
  /** Median repetitions per pair in each run. */
  repeatsA: number;
  repeatsB: number;
  /** Each run's median over the pairs compared of each pair's median, in the figure's unit. */
  valueA: number | null;
  valueB: number | null;
  /** % change (log figures) or difference in the figure's unit (linear); null when not computable. */
  estimate: number | null;
  /** The 95 % confidence interval, same unit; null when refused. */
  low: number | null;
  high: number | null;
  /** Smallest change this design detects 80 % of the time at 95 % confidence, same unit (magnitude). */
  mde: number | null;
  /** The margin as used, same unit as the estimate. */
  margin: number;
  /** null when the data cannot support a verdict (`reason` says why). */
  verdict: Verdict | null;
  /** Why there is no verdict, or a caveat about the method (unpaired). */
  reason: string | null;
}

/** Compare figure values of run B against baseline A. */
export function compareFigure(a: PairValues, b: PairValues, options: EffectOptions): Effect {
  const ta = transform(a, options.scale);
  const tb = transform(b, options.scale);
  const common = [...ta.keys()].filter((k) => tb.has(k)).sort();
  const margin = options.scale === 'log' ? options.margin * 100 : options.margin;
  if (ta.size === 0 || tb.size === 0) {
    return refused(ta, tb, options.scale, margin, `no usable values in ${ta.size === 0 ? 'the baseline' : 'this run'}`);
  }
  if (options.scale === 'log') {
    const nonPositive = countNonPositive(a) + countNonPositive(b);
    if (nonPositive > 0) {
      // Dropping them would keep only the pairs that happen to stay positive: a biased ratio.
      return refused(
        ta,
        tb,
        options.scale,
        margin,
        `${nonPositive} test${nonPositive === 1 ? '' : 's'} at or below 0, where a ratio means nothing ` +
          '(marginal CPU: the test cost no more than the idle baseline showed, or the baseline was disturbed)',
      );
    }
  }
  if (common.length === 0) return unpaired(ta, tb, options, margin);
  return paired(common, ta, tb, options, margin);
}

/** log for ratio figures (a non-positive value refuses the figure before this); pairs without values are dropped. */
function transform(values: PairValues, scale: Scale): Map<string, Passes> {
  const out = new Map<string, Passes>();
  for (const [k, xs] of values) {
    const t = xs.map((x) => (x === null || !Number.isFinite(x) || (scale === 'log' && x <= 0) ? null : scale === 'log' ? Math.log(x) : x));
    if (t.some((x) => x !== null)) out.set(k, t);
  }
  return out;
}

function countNonPositive(values: PairValues): number {
  let n = 0;
  for (const xs of values.values()) for (const x of xs) if (x !== null && Number.isFinite(x) && x <= 0) n++;
  return n;
}

/** The median over pairs of each pair's median, back in the figure's unit (as compare.ts's per-run figure is). */
function typical(pairs: readonly Passes[], scale: Scale): number | null {
  const m = median(pairs.map((p) => (scale === 'log' ? Math.exp(medianOfPresent(p)) : medianOfPresent(p))));
  return m ?? null;
}

function paired(
  common: readonly string[],
  ta: Map<string, Passes>,
  tb: Map<string, Passes>,
  options: EffectOptions,
  margin: number,
): Effect {
  const xsA = common.map((k) => ta.get(k) as Passes);
  const xsB = common.map((k) => tb.get(k) as Passes);
  const medA = xsA.map(medianOfPresent);
  const medB = xsB.map(medianOfPresent);
  const d = medB.map((m, i) => m - (medA[i] as number));
  const estimator: Effect['estimator'] = d.length > HL_MAX_PAIRS ? 'median' : 'hodges-lehmann';
  const locate = (xs: readonly number[]) => (estimator === 'median' ? (median(xs) as number) : hodgesLehmann(xs));
  const est = locate(d);
  const base = {
    method: 'paired' as const,
    estimator,
    pairsA: common.length,
    pairsB: common.length,
    repeatsA: median(xsA.map(presentCount)) as number,
    repeatsB: median(xsB.map(presentCount)) as number,
    valueA: typical(xsA, options.scale),
    valueB: typical(xsB, options.scale),
    estimate: present(est, options.scale),
    margin,
  };
  const noiseA = noiseModel(xsA);
  const noiseB = noiseModel(xsB);
  const short = [noiseA.pooledDf < MIN_NOISE_DF ? 'the baseline' : null, noiseB.pooledDf < MIN_NOISE_DF ? 'this run' : null].filter(
    Boolean,
  );
  if (short.length > 0) {
    return {
      ...base,
      low: null,
      high: null,
      mde: null,
      verdict: null,
      reason:
        `too few repetitions to tell a change from test-to-test noise in ${short.join(' and ')} ` +
        `(${common.length} pair${common.length === 1 ? '' : 's'}; needs --repeat 4 with one pair, 3 with two, 2 with three or more)`,
    };
  }
  // One cluster measured twice: its test and pass noise are estimated from both runs together
  // (as a pooled t test pools its variances), which doubles their degrees of freedom.
  const noise = poolNoise(noiseA, noiseB);
  const rng = seededRandom(options.seed);
  const replicate = new Float64Array(options.replicates);
  const dStar = new Array<number>(d.length);
  for (let r = 0; r < options.replicates; r++) {
    const variances = drawVariances(rng, noise);
    const worldA = drawWorld(rng, variances, noiseA.passes);
    const worldB = drawWorld(rng, variances, noiseB.passes);
    for (let i = 0; i < d.length; i++) {
      const a = redrawMedian(rng, medA[i] as number, xsA[i] as Passes, worldA);
      const b = redrawMedian(rng, medB[i] as number, xsB[i] as Passes, worldB);
      dStar[i] = b - a;
    }
    replicate[r] = locate(dStar);
  }
  replicate.sort();
  const alpha = 1 - CONFIDENCE;
  const qLow = quantileSorted(replicate, alpha / 2);
  const qHigh = quantileSorted(replicate, 1 - alpha / 2);
  // Basic bootstrap: the replicates scatter around `est` as `est` scatters around the truth.
  const low = 2 * est - qHigh;
  const high = 2 * est - qLow;
  const halfWidth = (qHigh - qLow) / 2;
  return finish(base, low, high, halfWidth, options.scale, margin, null);
}

function unpaired(ta: Map<string, Passes>, tb: Map<string, Passes>, options: EffectOptions, margin: number): Effect {
  const a = [...ta.values()].map(medianOfPresent);
  const b = [...tb.values()].map(medianOfPresent);
  const base = {
    method: 'unpaired' as const,
    estimator: 'hodges-lehmann' as const,
    pairsA: a.length,
    pairsB: b.length,
    repeatsA: median([...ta.values()].map(presentCount)) as number,
    repeatsB: median([...tb.values()].map(presentCount)) as number,
    valueA: typical([...ta.values()], options.scale),
    valueB: typical([...tb.values()], options.scale),
    margin,
  };
  const caveat =
    'unpaired: the runs share no pair (other nodes or another cluster), so pair-to-pair differences ' +
    'count as noise; pairs that share a node are treated as independent, which narrows the interval when nodes differ';
  if (a.length * b.length > MAX_UNPAIRED_DIFFERENCES) {
    return {
      ...base,
      estimate: null,
      low: null,
      high: null,
      mde: null,
      verdict: null,
      reason: `${caveat}; too many pairs for the exact method`,
    };
  }
  const diffs: number[] = [];
  for (const y of b) for (const x of a) diffs.push(y - x);
  diffs.sort((p, q) => p - q);
  const est = median(diffs) as number;
  const k = mannWhitneyLowerCount(a.length, b.length, 1 - CONFIDENCE);
  if (k === null) {
    return {
      ...base,
      estimate: present(est, options.scale),
      low: null,
      high: null,
      mde: null,
      verdict: null,
      reason: `${caveat}; ${a.length} and ${b.length} pairs are too few for a 95 % interval without pairing (needs at least 4 and 4)`,
    };
  }
  const low = diffs[k - 1] as number;
  const high = diffs[diffs.length - k] as number;
  return finish({ ...base, estimate: present(est, options.scale) }, low, high, (high - low) / 2, options.scale, margin, caveat);
}

/** The interval, MDE and verdict in the presented unit. */
function finish(
  base: Omit<Effect, 'low' | 'high' | 'mde' | 'verdict' | 'reason'>,
  low: number,
  high: number,
  halfWidth: number,
  scale: Scale,
  margin: number,
  reason: string | null,
): Effect {
  const lo = present(low, scale);
  const hi = present(high, scale);
  // A test at 95 % rejects when |estimate| > half-width; it does so 80 % of the time for an
  // effect of half-width + z(0.80) standard errors, and half-width = z(0.975) standard errors.
  const mdeLog = halfWidth * (1 + Z_POWER / Z_CONF);
  const mde = scale === 'log' ? (Math.exp(mdeLog) - 1) * 100 : mdeLog;
  return { ...base, low: lo, high: hi, mde, verdict: verdict(base.estimate as number, lo, hi, margin), reason };
}

/**
 * changed: the interval excludes 0 and the estimate lies beyond the margin; equivalent: the
 * interval lies within +-margin; inconclusive otherwise (including a real change too small to matter
 * whose interval still reaches past the margin).
 */
export function verdict(estimate: number, low: number, high: number, margin: number): Verdict {
  if (low >= -margin && high <= margin) return 'equivalent';
  if ((low > 0 || high < 0) && Math.abs(estimate) > margin) return 'changed';
  return 'inconclusive';
}

function refused(ta: Map<string, Passes>, tb: Map<string, Passes>, scale: Scale, margin: number, reason: string): Effect {
  return {
    method: 'none',
    estimator: 'hodges-lehmann',
    pairsA: ta.size,
    pairsB: tb.size,
    repeatsA: median([...ta.values()].map(presentCount)) ?? 0,
    repeatsB: median([...tb.values()].map(presentCount)) ?? 0,
    valueA: typical([...ta.values()], scale),
    valueB: typical([...tb.values()], scale),
    estimate: null,
    low: null,
    high: null,
    mde: null,
    margin,
    verdict: null,
    reason,
  };
}

/** log difference -> % change; linear stays. */
function present(x: number, scale: Scale): number {
  return scale === 'log' ? (Math.exp(x) - 1) * 100 : x;
}

/**
 * One run's noise, from its repetitions: a pass (one sweep over every pair; repetition i of
 * every pair belongs to pass i) may as a whole run faster or slower than another (the machine
 * was busier for a minute), which moves every pair's median together and does not average out
 * over pairs; the rest is the noise of single tests. In the balanced two-way layout (pairs x
 * passes) the test mean square estimates the test variance and the pass mean square estimates
 * test variance + pairs x pass variance.
 */
export interface NoiseModel {
  /** Test-to-test standard deviation and its degrees of freedom. */
  testSd: number;
  testDf: number;
  /** Mean square of the pass means (pair effects removed), its degrees of freedom, and the pairs per pass. */
  passMeanSquare: number;
  passDf: number;
  pairsPerPass: number;
  /** Degrees of freedom of the repetitions around their pair's mean (what a refusal is judged on). */
  pooledDf: number;
  passes: number;
}

export function noiseModel(groups: readonly Passes[]): NoiseModel {
  const passes = Math.max(0, ...groups.map((g) => g.length));
  const residual: (number | null)[][] = [];
  let pooledDf = 0;
  let pooledSs = 0;
  for (const g of groups) {
    const present = g.filter((x): x is number => x !== null);
    if (present.length < 2) continue;
    const mean = present.reduce((s, x) => s + x, 0) / present.length;
    residual.push(g.map((x) => (x === null ? null : x - mean)));
    for (const x of present) pooledSs += (x - mean) ** 2;
    pooledDf += present.length - 1;
  }
  const passMeans: number[] = [];
  const passCounts: number[] = [];
  for (let r = 0; r < passes; r++) {
    const xs: number[] = [];
    for (const g of residual) {
      const x = g[r];
      if (x !== undefined && x !== null) xs.push(x);
    }
    passMeans.push(xs.length > 0 ? xs.reduce((s, x) => s + x, 0) / xs.length : 0);
    passCounts.push(xs.length);
  }
  const usedPasses = passCounts.filter((n) => n > 0).length;
  // With one pair (or one pass) pass and test noise cannot be told apart: all of it is test noise.
  if (residual.length < 2 || usedPasses < 2) {
    return {
      testSd: pooledDf > 0 ? Math.sqrt(pooledSs / pooledDf) : 0,
      testDf: pooledDf,
      passMeanSquare: 0,
      passDf: 0,
      pairsPerPass: 1,
      pooledDf,
      passes,
    };
  }
  let ssTest = 0;
  let ssPass = 0;
  for (const g of residual) {
    for (let r = 0; r < g.length; r++) {
      const x = g[r];
      if (x === null || x === undefined) continue;
      ssTest += (x - (passMeans[r] as number)) ** 2;
    }
  }
  for (let r = 0; r < passes; r++) ssPass += (passCounts[r] as number) * (passMeans[r] as number) ** 2;
  const passDf = usedPasses - 1;
  const testDf = Math.max(1, pooledDf - passDf);
  const pairsPerPass = passCounts.reduce((s, n) => s + n, 0) / usedPasses;
  return { testSd: Math.sqrt(ssTest / testDf), testDf, passMeanSquare: ssPass / passDf, passDf, pairsPerPass, pooledDf, passes };
}

/** One bootstrap world of a run: its test noise and the shift of each of its passes. */
interface World {
  testSd: number;
  passShift: Float64Array;
}

/**
 * Draw the run's noise from its sampling distribution (so a small design pays for its
 * uncertain noise, as a t interval does), then each pass's shift.
 */
function drawVariances(rng: () => number, m: NoiseModel): { testVar: number; passVar: number } {
  const testVar = m.testDf > 0 ? (m.testSd ** 2 * m.testDf) / chiSquare(rng, m.testDf) : 0;
  if (m.passDf === 0) return { testVar, passVar: 0 };
  const passMeanSquare = (m.passMeanSquare * m.passDf) / chiSquare(rng, m.passDf);
  return { testVar, passVar: Math.max(0, (passMeanSquare - testVar) / m.pairsPerPass) };
}

/** A run's world from drawn variances: its test noise, and a shift for each of its `passes`. */
function drawWorld(rng: () => number, v: { testVar: number; passVar: number }, passes: number): World {
  const passShift = new Float64Array(passes);
  const sd = Math.sqrt(v.passVar);
  if (sd > 0) for (let r = 0; r < passes; r++) passShift[r] = sd * normal(rng);
  return { testSd: Math.sqrt(v.testVar), passShift };
}

/** Two runs' noise models as one: sums of squares and degrees of freedom added. */
export function poolNoise(a: NoiseModel, b: NoiseModel): NoiseModel {
  const testDf = a.testDf + b.testDf;
  const passDf = a.passDf + b.passDf;
  return {
    testSd: testDf > 0 ? Math.sqrt((a.testSd ** 2 * a.testDf + b.testSd ** 2 * b.testDf) / testDf) : 0,
    testDf,
    passMeanSquare: passDf > 0 ? (a.passMeanSquare * a.passDf + b.passMeanSquare * b.passDf) / passDf : 0,
    passDf,
    pairsPerPass: passDf > 0 ? (a.pairsPerPass * a.passDf + b.pairsPerPass * b.passDf) / passDf : 1,
    pooledDf: a.pooledDf + b.pooledDf,
    passes: Math.max(a.passes, b.passes),
  };
}

/** Redraw a pair's median: its measured passes again, around `center`, in world `w`. */
function redrawMedian(rng: () => number, center: number, passes: Passes, w: World): number {
  const xs = new Float64Array(presentCount(passes));
  let i = 0;
  for (let r = 0; r < passes.length; r++) {
    if (passes[r] === null) continue;
    xs[i++] = (w.passShift[r] as number) + w.testSd * normal(rng);
  }
  return center + (xs.length === 1 ? (xs[0] as number) : medianOfTyped(xs));
}

function presentCount(passes: Passes): number {
  let n = 0;
  for (const x of passes) if (x !== null) n++;
  return n;
}

function medianOfPresent(passes: Passes): number {
  return median(passes.filter((x): x is number => x !== null)) as number;
}

/** Median of all pairwise (Walsh) averages, i <= j. */
export function hodgesLehmann(xs: readonly number[]): number {
  const n = xs.length;
  const walsh = new Float64Array((n * (n + 1)) / 2);
  let w = 0;
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) walsh[w++] = ((xs[i] as number) + (xs[j] as number)) / 2;
  return medianOfTyped(walsh);
}

/** Median of a typed array, sorted in place (the bootstrap's inner loop: no copies). */
function medianOfTyped(xs: Float64Array): number {
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
    const k = Math.floor((m * n) / 2 - Z_CONF * Math.sqrt((m * n * (m + n + 1)) / 12));
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

function quantileSorted(sorted: Float64Array, q: number): number {
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
