/**
 * The statistics of compare's verdicts (client/compare/effect.ts): the estimators on inputs
 * whose answers are known by hand, the exact Mann-Whitney counts, the verdict rule at its
 * edges, when a verdict is refused, reproducibility by seed, and, on seeded synthetic designs,
 * that the interval covers the true effect about 95 % of the time.
 */
import { describe, expect, it } from 'vitest';
import {
  compareFigure,
  hodgesLehmann,
  mannWhitneyLowerCount,
  noiseModel,
  normal,
  verdict,
  type EffectOptions,
  type Passes,
} from '../../client/compare/effect.js';
import { seededRandom } from '../../shared/random.js';

const LOG: EffectOptions = { scale: 'log', margin: 0.03, replicates: 400, seed: 7 };

/** `pairs` pairs at 10 Gbit/s x pair level, `repeats` tests each, test noise `sd` (log), all multiplied by `factor`. */
function design(rng: () => number, pairs: number, repeats: number, sd: number, factor = 1, prefix = 'p'): Map<string, Passes> {
  const m = new Map<string, Passes>();
  for (let p = 0; p < pairs; p++) {
    const level = 1 + p / 10;
    m.set(
      `${prefix}${p}`,
      Array.from({ length: repeats }, () => 10e9 * level * factor * Math.exp(sd * normal(rng))),
    );
  }
  return m;
}

describe('estimators', () => {
  it('takes the Hodges-Lehmann estimate as the median of the Walsh averages', () => {
    // Walsh averages of 1, 2, 10: 1, 1.5, 5.5, 2, 6, 10 -> median of six = (2 + 5.5) / 2.
    expect(hodgesLehmann([1, 2, 10])).toBe(3.75);
    expect(hodgesLehmann([4])).toBe(4);
  });

  it('counts the Mann-Whitney lower tail exactly: 4 and 4 allow [min, max], 3 and 3 allow nothing', () => {
    // P(U = 0) = 1/70 <= 2.5 %, P(U <= 1) = 2/70 > 2.5 %.
    expect(mannWhitneyLowerCount(4, 4, 0.05)).toBe(1);
    // P(U = 0) = 1/20 = 5 % > 2.5 %.
    expect(mannWhitneyLowerCount(3, 3, 0.05)).toBeNull();
    // Tables: the two-sided 5 % critical value of U for 6 and 6 is 5, so 6 differences are cut at each end.
    expect(mannWhitneyLowerCount(6, 6, 0.05)).toBe(6);
    expect(mannWhitneyLowerCount(10, 10, 0.05)).toBe(24);
  });

  it('splits a balanced layout into test noise and pass shifts', () => {
    // Two pairs, three passes; pass 2 is +1 on both pairs, and the tests add +-0.1 around that.
    const m = noiseModel([
      [0.1, 1, -0.1],
      [-0.1, 1, 0.1],
    ]);
    expect(m.passes).toBe(3);
    expect(m.pooledDf).toBe(4);
    expect(m.passDf).toBe(2);
    expect(m.testDf).toBe(2);
    // After pair and pass means, the tests are +-0.1 around them: 4 x 0.01 over 2 df.
    expect(m.testSd).toBeCloseTo(Math.sqrt(0.02), 10);
    // Pass means of the pair-centred residuals: -1/3, 2/3, -1/3; x2 pairs / 2 df.
    expect(m.passMeanSquare).toBeCloseTo((2 * (1 / 9 + 4 / 9 + 1 / 9)) / 2, 10);
  });
});

describe('verdict', () => {
  it('is equivalent inside the margin, changed beyond it with 0 excluded, inconclusive otherwise', () => {
    expect(verdict(0.5, -2, 2.9, 3)).toBe('equivalent');
    expect(verdict(8, 4, 12, 3)).toBe('changed');
    expect(verdict(-8, -12, -0.1, 3)).toBe('changed');
    // Excludes 0 but the estimate is within the margin, and the interval reaches past it.
    expect(verdict(2, 0.5, 3.5, 3)).toBe('inconclusive');
    // Beyond the margin but 0 inside the interval.
    expect(verdict(5, -1, 11, 3)).toBe('inconclusive');
  });
});

describe('compareFigure', () => {
  it('gives the same interval for the same seed and a different one for another', () => {
    const rng = seededRandom(1);
    const a = design(rng, 6, 3, 0.03);
    const b = design(rng, 6, 3, 0.03, 1.05);
    const one = compareFigure(a, b, LOG);
    expect(compareFigure(a, b, LOG)).toEqual(one);
    const other = compareFigure(a, b, { ...LOG, seed: 8 });
    expect(other.estimate).toBe(one.estimate);
    expect(other.low).not.toBe(one.low);
  });

  it('finds a 10 % gain on 6 pairs x 3 repeats with 3 % test noise, and says what it could detect', () => {
    const rng = seededRandom(2);
    const e = compareFigure(design(rng, 6, 3, 0.03), design(rng, 6, 3, 0.03, 1.1), LOG);
    expect(e.method).toBe('paired');
    expect(e.estimator).toBe('hodges-lehmann');
    expect(e.verdict).toBe('changed');
    expect(e.estimate).toBeGreaterThan(5);
    expect(e.estimate).toBeLessThan(15);
    expect(e.mde).toBeGreaterThan(0);
    // Three passes leave the pass-to-pass spread uncertain (2 df), which the MDE pays for.
    expect(e.mde).toBeLessThan(15);
  });

  it('refuses a verdict on one pair with 3 repeats, and gives one with 4', () => {
    const rng = seededRandom(3);
    const three = compareFigure(design(rng, 1, 3, 0.03), design(rng, 1, 3, 0.03), LOG);
    expect(three.verdict).toBeNull();
    expect(three.low).toBeNull();
    expect(three.reason).toMatch(/too few repetitions.*--repeat 4 with one pair/);
    const four = compareFigure(design(rng, 1, 4, 0.03), design(rng, 1, 4, 0.03), LOG);
    expect(four.verdict).not.toBeNull();
  });

  it('compares runs without a common pair unpaired, says so, and refuses 3 against 3 pairs', () => {
    const rng = seededRandom(4);
    const e = compareFigure(design(rng, 6, 2, 0.03, 1, 'a'), design(rng, 6, 2, 0.03, 1.5, 'b'), LOG);
    expect(e.method).toBe('unpaired');
    expect(e.reason).toMatch(/^unpaired/);
    expect(e.verdict).toBe('changed');
    expect(e.low).toBeLessThan(e.estimate as number);
    const few = compareFigure(design(rng, 3, 2, 0.03, 1, 'a'), design(rng, 3, 2, 0.03, 1, 'b'), LOG);
    expect(few.verdict).toBeNull();
    expect(few.reason).toMatch(/too few for a 95 % interval without pairing/);
  });

  it('refuses a ratio figure with values at or below 0, and compares a linear one as a difference', () => {
    const a = new Map<string, Passes>([['p', [0, -1, null]]]);
    const b = new Map<string, Passes>([['p', [1, 2, 3]]]);
    expect(compareFigure(a, b, LOG).reason).toMatch(/no usable values in the baseline/);
    // Two of three pairs below 0: dropping them would judge the one pair that stayed positive.
    const marginal = new Map<string, Passes>([
      ['n1>n2', [10, 10.2, 9.8]],
      ['n2>n1', [-2, -2.1, -1.9]],
      ['n1>n3', [-1, -1.1, -0.9]],
    ]);
    const refused = compareFigure(marginal, marginal, LOG);
    expect(refused.verdict).toBeNull();
    expect(refused.method).toBe('none');
    // Six in each run.
    expect(refused.reason).toMatch(/^12 tests at or below 0/);
    const la = new Map<string, Passes>(Array.from({ length: 4 }, (_, i) => [`p${i}`, [1, 1.1, 0.9]]));
    const lb = new Map<string, Passes>(Array.from({ length: 4 }, (_, i) => [`p${i}`, [3, 3.1, 2.9]]));
    const e = compareFigure(la, lb, { ...LOG, scale: 'linear', margin: 0.5 });
    expect(e.estimate).toBeCloseTo(2, 10);
    expect(e.margin).toBe(0.5);
    expect(e.verdict).toBe('changed');
  });

  it('covers the true effect in about 95 % of seeded synthetic designs (6 pairs x 3 repeats, 5 % test noise)', () => {
    const rng = seededRandom(5);
    let covered = 0;
    let changedAtZero = 0;
    const trials = 150;
    for (let t = 0; t < trials; t++) {
      const e = compareFigure(design(rng, 6, 3, 0.05), design(rng, 6, 3, 0.05, 1.04), { ...LOG, seed: t + 1, replicates: 300 });
      if ((e.low as number) <= 4 && (e.high as number) >= 4) covered++;
      const z = compareFigure(design(rng, 6, 3, 0.05), design(rng, 6, 3, 0.05), { ...LOG, seed: t + 1, replicates: 300 });
      if (z.verdict === 'changed') changedAtZero++;
    }
    // Exact for these seeds; the bounds say what the method promises (>= 95 % coverage less
    // Monte Carlo slack, and false "changed" at most the 5 % the interval allows).
    expect(covered / trials).toBeGreaterThanOrEqual(0.9);
    expect(changedAtZero / trials).toBeLessThanOrEqual(0.05);
  });
});
