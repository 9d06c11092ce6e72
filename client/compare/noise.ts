/**
 * A run's noise for compare's bootstrap (client/compare/effect.ts): the two-way model of its
 * repetitions (test-to-test noise and a shift per pass), two runs' models pooled, and the
 * worlds the bootstrap draws from them. Pure; randomness comes in as a seeded generator.
 */
import { chiSquare, medianOfTyped, normal } from './draws.js';
import type { Passes } from './effect.js';

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
export interface World {
  testSd: number;
  passShift: Float64Array;
}

/**
 * Draw the run's noise from its sampling distribution (so a small design pays for its
 * uncertain noise, as a t interval does), then each pass's shift.
 */
export function drawVariances(rng: () => number, m: NoiseModel): { testVar: number; passVar: number } {
  const testVar = m.testDf > 0 ? (m.testSd ** 2 * m.testDf) / chiSquare(rng, m.testDf) : 0;
  if (m.passDf === 0) return { testVar, passVar: 0 };
  const passMeanSquare = (m.passMeanSquare * m.passDf) / chiSquare(rng, m.passDf);
  return { testVar, passVar: Math.max(0, (passMeanSquare - testVar) / m.pairsPerPass) };
}

/** A run's world from drawn variances: its test noise, and a shift for each of its `passes`. */
export function drawWorld(rng: () => number, v: { testVar: number; passVar: number }, passes: number): World {
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
export function redrawMedian(rng: () => number, center: number, passes: Passes, w: World): number {
  const xs = new Float64Array(presentCount(passes));
  let i = 0;
  for (let r = 0; r < passes.length; r++) {
    if (passes[r] === null) continue;
    xs[i++] = (w.passShift[r] as number) + w.testSd * normal(rng);
  }
  return center + (xs.length === 1 ? (xs[0] as number) : medianOfTyped(xs));
}

export function presentCount(passes: Passes): number {
  let n = 0;
  for (const x of passes) if (x !== null) n++;
  return n;
}
