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
import { hodgesLehmann, mannWhitneyLowerCount, quantileSorted, Z_975 } from './draws.js';
import { drawVariances, drawWorld, noiseModel, poolNoise, presentCount, redrawMedian } from './noise.js';

export { chiSquare, hodgesLehmann, mannWhitneyLowerCount, normal } from './draws.js';
export { noiseModel, poolNoise, type NoiseModel } from './noise.js';

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
  const mdeLog = halfWidth * (1 + Z_POWER / Z_975);
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

function medianOfPresent(passes: Passes): number {
  return median(passes.filter((x): x is number => x !== null)) as number;
}
