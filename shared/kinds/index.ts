/**
 * The registry of test kinds: every kind netmatrix can run, its spec in the wire's
 * discriminated union, and `kindOf` to reach a spec's traits. Adding a kind is one module
 * beside this file plus its entry in TestSpecSchema and KINDS below (CONTRIBUTING.md).
 */
import { z } from 'zod';
import type { TestKindModule } from './common.js';
import { latencyKind, LatencySpecSchema } from './latency.js';
import { throughputKind, ThroughputSpecSchema } from './throughput.js';

/** What a test's client runs, by kind: the spec every `serve` and `probe` carries. */
export const TestSpecSchema = z.discriminatedUnion('kind', [ThroughputSpecSchema, LatencySpecSchema]);
export type TestSpec = z.infer<typeof TestSpecSchema>;
export type TestKind = TestSpec['kind'];
export type SpecOf<K extends TestKind> = Extract<TestSpec, { kind: K }>;

const KINDS: { readonly [K in TestKind]: TestKindModule<SpecOf<K>> } = {
  throughput: throughputKind,
  latency: latencyKind,
};

/** What a test measures: bulk throughput (iperf3) or request/response latency (sockperf). */
export const TestKindSchema = z.enum(Object.keys(KINDS) as [TestKind, ...TestKind[]]);
export const TEST_KINDS: readonly TestKind[] = TestKindSchema.options;

/** The module of a kind, by name. */
export function kindModule<K extends TestKind>(kind: K): TestKindModule<SpecOf<K>> {
  return KINDS[kind];
}

/**
 * The traits of `spec`'s kind. Call them with this same `spec`: each module takes its own
 * kind's spec (TypeScript's method bivariance lets the union through; the discriminant keeps it sound).
 */
export function kindOf(spec: TestSpec): TestKindModule<TestSpec> {
  return KINDS[spec.kind];
}

/** Longest test of any kind, s: the bound of the agent's own duration limit. */
export const MAX_DURATION_SECONDS = Math.max(...Object.values(KINDS).map((k) => k.maxDurationSeconds));
