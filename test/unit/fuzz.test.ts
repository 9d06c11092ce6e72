/**
 * Hostile input for the two parsers that read what other programs wrote: the wire protocol
 * (`parseAgentMessage`, `parseAggregatorMessage`) and iperf3's `-J` output
 * (`parseIperf3Output`). Property-based, with a fixed seed so CI is deterministic:
 *
 * - a protocol parser either returns a message its schema accepts or throws a ProtocolError,
 *   never anything else (a TypeError or RangeError would escape the socket's handler);
 * - the iperf3 parser never throws: it returns a result its schema accepts, or a failure with
 *   a catalogue code (and, if it keeps a partial result, that result is valid too).
 *
 * Inputs: random text and bytes, random JSON, real messages and real captured iperf3 reports
 * (test/fixtures/iperf3) with random values at random paths, truncated, with raw tokens JSON
 * cannot carry as values (1e999, NaN, 400-digit numbers), and deeply nested. Failing inputs
 * found here are kept as plain regression tests at the end.
 */
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cpuReport, parseProcStat } from '../../shared/cpu.js';
import { ERROR_CODES } from '../../shared/errors.js';
import { parseIperf3Output, type Iperf3Outcome } from '../../shared/iperf3.js';
import { IperfResultSchema } from '../../shared/iperf3-result.js';
import {
  AgentMessageSchema,
  AggregatorMessageSchema,
  MAX_FRAME_BYTES,
  parseAgentMessage,
  parseAggregatorMessage,
  PROTOCOL_VERSION,
  ProtocolError,
  type AgentMessage,
  type AggregatorMessage,
} from '../../shared/protocol.js';
import { testIdentity } from '../helpers/identity.js';

const SEED = 20_261_125;
const RUNS = 300;
const opts = (numRuns = RUNS) => ({ seed: SEED, numRuns });

const fixtureDir = new URL('../fixtures/', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, fixtureDir), 'utf8');

/** Every captured iperf3 output: the JSON reports and the text ones (errors, version). */
const iperfFixtures = readdirSync(new URL('iperf3/', fixtureDir))
  .filter((f) => /\.(json|txt)$/.test(f))
  .sort()
  .map((f) => ({ name: f, text: read(`iperf3/${f}`) }));
/** The fixtures that are one JSON document (server-idle.json is empty: an idle server prints nothing). */
const jsonFixtures = iperfFixtures.filter((f) => {
  try {
    JSON.parse(f.text);
    return true;
  } catch {
    return false;
  }
});

function captured(name: string) {
  const outcome = parseIperf3Output(read(`iperf3/${name}`));
  if (!outcome.ok) throw new Error(`fixture ${name} did not parse: ${outcome.failure.message}`);
  return outcome.result;
}

const cpu = cpuReport([parseProcStat(read('proc-stat/busy-1.txt'), 1_000), parseProcStat(read('proc-stat/busy-2.txt'), 2_000)]);
const spec = { kind: 'throughput', protocol: 'tcp', durationSeconds: 10, bitrateBitsPerSecond: 0, streams: 1, reverse: false } as const;

const agentSamples: AgentMessage[] = [
  { type: 'hello', protocolVersion: PROTOCOL_VERSION, agent: testIdentity({ nodeName: 'node-1' }) },
  { type: 'ready', testId: 'test-1' },
  {
    type: 'result',
    resultId: 'r-1',
    testId: 'test-1',
    role: 'client',
    startedAtMs: 1_700_000_000_000,
    endedAtMs: 1_700_000_010_000,
    ok: true,
    iperf: captured('udp.json'),
    cpu,
  },
  {
    type: 'result',
    resultId: 'r-2',
    testId: 'test-2',
    role: 'server',
    startedAtMs: 0,
    endedAtMs: 0,
    ok: false,
    error: { code: 'port-in-use', message: 'taken' },
  },
  { type: 'cpu-sample', requestId: 'idle-1', window: cpu.test },
];

const aggregatorSamples: AggregatorMessage[] = [
  { type: 'welcome', protocolVersion: PROTOCOL_VERSION, sessionId: 'b7a4e7a2-6f0e-4a43-8d8e-3d1f1b2c9a00' },
  { type: 'serve', testId: 'test-1', bindAddress: '198.19.1.2', port: 5201, spec, idleTimeoutSeconds: 10 },
  { type: 'probe', testId: 'test-1', target: '198.18.200.1', port: 5201, spec },
  { type: 'cancel', testId: 'test-1', reason: 'server-not-ready' },
  { type: 'ack', resultIds: ['r-1', 'r-2'] },
  { type: 'sample-cpu', requestId: 'idle-1', durationMs: 1000 },
];

// ------------------------------------------------------------------ hostile values

/** Tokens that are valid or near-valid JSON numbers but no sane value, spliced in as raw text. */
const RAW_TOKENS = [
  '1e999',
  '-1e999',
  '1e-999',
  '-0',
  `1${'0'.repeat(400)}`,
  '9007199254740993',
  '0.1e1',
  'NaN',
  'Infinity',
  '-Infinity',
  'null',
  'true',
  '"NaN"',
  '"Infinity"',
  '"1e999"',
  '" 5201"',
  '"0x1451"',
  '""',
  '{}',
  '[]',
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
];
/** Stands in for the raw text until the document is serialized. */
const MARK = 'fuzz-raw-value-7f3a';

/** Nesting deep enough to break a recursive parser, shallow enough to stay fast. */
const deep = (depth: number, open: string, close: string, inner = '1') => open.repeat(depth) + inner + close.repeat(depth);
const deepNesting = fc.oneof(
  fc.integer({ min: 1, max: 20_000 }).map((d) => deep(d, '[', ']')),
  fc.integer({ min: 1, max: 20_000 }).map((d) => deep(d, '{"a":', '}')),
);

/** A raw JSON text to splice in for a value. */
const hostileRaw: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...RAW_TOKENS),
  fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'),
  fc.double().map((n) => (Number.isFinite(n) ? String(n) : 'null')),
  fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String),
  fc.string({ unit: 'binary', maxLength: 64 }).map((s) => JSON.stringify(s)),
  fc.integer({ min: 1, max: 5000 }).map((n) => JSON.stringify('x'.repeat(n))),
  deepNesting,
);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = (string | number)[];

/** Every path to a value inside `v` (the root included). */
function paths(v: Json, at: Path = []): Path[] {
  const here = [at];
  if (Array.isArray(v)) return here.concat(...v.map((x, i) => paths(x, [...at, i])));
  if (v !== null && typeof v === 'object') return here.concat(...Object.entries(v).map(([k, x]) => paths(x, [...at, k])));
  return here;
}

interface Edit {
  pick: number;
  /** Raw JSON text for the value, undefined to remove it, or a nudge of the value that is there. */
  raw: string | undefined | { nudge: number };
}

/** A value of the same kind as `v`, often still valid: a nearby number, a longer string, the other boolean. */
function nudged(v: Json, by: number): string {
  if (typeof v === 'number') return String(by % 2 === 0 ? v + (by % 7) - 3 : v * (by % 5));
  if (typeof v === 'string') return JSON.stringify(by % 2 === 0 ? `${v}${'x'.repeat(by % 4)}` : v.slice(by % 3));
  if (typeof v === 'boolean') return String(!v);
  return JSON.stringify(v);
}

/** `doc` as JSON text with the values at the picked paths replaced by raw texts (or removed). */
function mutate(doc: Json, edits: Edit[]): string {
  const all = paths(doc);
  const copy = structuredClone(doc);
  const marks: string[] = [];
  for (const { pick, raw } of edits) {
    const path = all[pick % all.length] as Path;
    if (path.length === 0) return typeof raw === 'string' ? raw : '';
    let parent: Json | undefined = copy;
    for (const key of path.slice(0, -1)) {
      parent = parent !== null && typeof parent === 'object' ? (parent as Record<string | number, Json>)[key] : undefined;
    }
    // An earlier edit replaced or removed an ancestor of this path.
    if (parent === null || typeof parent !== 'object') continue;
    const last = path[path.length - 1] as string | number;
    const container = parent as Record<string | number, Json>;
    if (raw === undefined) {
      if (Array.isArray(container)) container.splice(last as number, 1);
      else delete container[last];
      continue;
    }
    const text = typeof raw === 'string' ? raw : nudged(container[last] ?? null, raw.nudge);
    container[last] = `${MARK}-${marks.length}`;
    marks.push(text);
  }
  // A function, so that `$&` and friends in a raw text are not replacement patterns.
  return marks.reduce((text, raw, i) => text.replace(JSON.stringify(`${MARK}-${i}`), () => raw), JSON.stringify(copy));
}

/** A document with one to three values at random paths replaced by hostile or nudged values (or removed). */
function mutated(docs: readonly Json[]): fc.Arbitrary<string> {
  const raw = fc.oneof(
    { weight: 3, arbitrary: hostileRaw },
    { weight: 2, arbitrary: fc.nat().map((nudge) => ({ nudge })) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
  const edit = fc.record({ pick: fc.nat(), raw });
  return fc.tuple(fc.constantFrom(...docs), fc.array(edit, { minLength: 1, maxLength: 3 })).map(([doc, edits]) => mutate(doc, edits));
}

/** `text` cut at a random point. */
function truncated(texts: readonly string[]): fc.Arbitrary<string> {
  return fc.constantFrom(...texts).chain((t) => fc.nat(t.length).map((n) => t.slice(0, n)));
}

// ------------------------------------------------------------------ protocol parsers

/** The parser's contract: a value its schema accepts, or a ProtocolError. */
function protocolContract<T>(parse: (raw: string | Buffer) => T, schema: { safeParse(v: unknown): { success: boolean } }) {
  return (raw: string | Buffer): void => {
    let m: T;
    try {
      m = parse(raw);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw new Error(`threw ${String(e)} instead of a ProtocolError`, { cause: e });
      expect(e.message.length).toBeGreaterThan(0);
      return;
    }
    expect(schema.safeParse(m).success).toBe(true);
  };
}

const sides = [
  {
    side: 'agent -> aggregator (parseAgentMessage)',
    parse: parseAgentMessage as (raw: string) => unknown,
    check: protocolContract(parseAgentMessage, AgentMessageSchema),
    samples: agentSamples as (AgentMessage | AggregatorMessage)[],
  },
  {
    side: 'aggregator -> agent (parseAggregatorMessage)',
    parse: parseAggregatorMessage as (raw: string) => unknown,
    check: protocolContract(parseAggregatorMessage, AggregatorMessageSchema),
    samples: aggregatorSamples as (AgentMessage | AggregatorMessage)[],
  },
];

describe.each(sides)('$side', ({ parse, check, samples }) => {
  const texts = samples.map((m) => JSON.stringify(m));

  it('accepts every sample unchanged (the generators start from valid messages)', () => {
    for (const m of samples) check(JSON.stringify(m));
  });

  it('returns a valid message or throws a ProtocolError for random text', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), check), opts());
  });

  it('returns a valid message or throws a ProtocolError for random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => check(Buffer.from(b))),
      opts(),
    );
  });

  it('returns a valid message or throws a ProtocolError for random JSON', () => {
    fc.assert(fc.property(fc.json({ maxDepth: 6 }), check), opts());
  });

  it('returns a valid message or throws a ProtocolError for random JSON objects with a real type', () => {
    const typed = fc.tuple(fc.constantFrom(...samples.map((m) => m.type)), fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 })));
    fc.assert(
      fc.property(typed, ([type, rest]) => check(JSON.stringify({ ...rest, type }))),
      opts(),
    );
  });

  it('returns a valid message or throws a ProtocolError for real messages with hostile values at random paths', () => {
    fc.assert(fc.property(mutated(samples as unknown as Json[]), check), opts(400));
  });

  it('keeps some mutated messages valid, so the property above is not only about refusals', () => {
    const accepted = fc.sample(mutated(samples as unknown as Json[]), { seed: SEED, numRuns: 300 }).filter((t) => {
      try {
        parse(t);
        return true;
      } catch {
        return false;
      }
    });
    expect(accepted.length).toBeGreaterThan(0);
  });

  it('returns a valid message or throws a ProtocolError for real messages cut short', () => {
    fc.assert(fc.property(truncated(texts), check), opts());
  });

  it('throws a ProtocolError for deeply nested JSON, alone or inside a message', () => {
    fc.assert(
      fc.property(deepNesting, fc.constantFrom(...texts), (nested, text) => {
        check(nested);
        check(text.replace(/}$/, `,"extra":${nested}}`));
      }),
      opts(50),
    );
  });

  it('throws a ProtocolError for any frame over MAX_FRAME_BYTES, string or Buffer', () => {
    fc.assert(
      fc.property(fc.constantFrom(...texts), fc.integer({ min: 1, max: 4096 }), (text, extra) => {
        const big = text + ' '.repeat(MAX_FRAME_BYTES - Buffer.byteLength(text) + extra);
        check(big);
        check(Buffer.from(big));
        expect(() => parseAgentMessage(big)).toThrow(/exceeds/);
      }),
      opts(10),
    );
  });
});

// ------------------------------------------------------------------ iperf3 parser

const codes = new Set(Object.keys(ERROR_CODES));

/** The parser's contract: never throws; a valid result, or a catalogue failure (with a valid partial result if any). */
function iperfContract(text: string): void {
  let outcome: Iperf3Outcome;
  try {
    outcome = parseIperf3Output(text);
  } catch (e) {
    throw new Error(`parseIperf3Output threw ${String(e)} (input ${text.length} chars: ${JSON.stringify(text.slice(0, 200))})`, {
      cause: e,
    });
  }
  if (outcome.ok) {
    expect(IperfResultSchema.safeParse(outcome.result).success).toBe(true);
    return;
  }
  expect(codes.has(outcome.failure.code)).toBe(true);
  expect(typeof outcome.failure.message).toBe('string');
  expect(outcome.failure.message.length).toBeLessThanOrEqual(5000);
  if (outcome.result !== undefined) expect(IperfResultSchema.safeParse(outcome.result).success).toBe(true);
}

describe('parseIperf3Output', () => {
  const reports = jsonFixtures.map((f) => JSON.parse(f.text) as Json);
  const texts = iperfFixtures.map((f) => f.text);

  it('parses every captured fixture within its contract (the generators start from real output)', () => {
    for (const f of iperfFixtures) iperfContract(f.text);
    expect(jsonFixtures.length).toBeGreaterThanOrEqual(10);
  });

  it('never throws on random text', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 500 }), iperfContract), opts());
  });

  it('never throws on random text made of JSON punctuation', () => {
    const punct = fc.string({ unit: fc.constantFrom('{', '}', '[', ']', '"', '\\', ':', ',', '1', 'e', ' '), maxLength: 300 });
    fc.assert(fc.property(punct, iperfContract), opts());
  });

  it('never throws on random JSON', () => {
    fc.assert(fc.property(fc.json({ maxDepth: 6 }), iperfContract), opts());
  });

  it('never throws on real reports with hostile values at random paths', () => {
    fc.assert(fc.property(mutated(reports), iperfContract), opts(400));
  });

  it('keeps some mutated reports parseable, so the property above also covers successes', () => {
    const outcomes = fc.sample(mutated(reports), { seed: SEED, numRuns: 300 }).map((t) => parseIperf3Output(t));
    expect(outcomes.filter((o) => o.ok).length).toBeGreaterThan(0);
    expect(outcomes.filter((o) => !o.ok).length).toBeGreaterThan(0);
  });

  it('never throws on real output cut short', () => {
    fc.assert(fc.property(truncated(texts), iperfContract), opts());
  });

  it('never throws on real reports back to back with garbage between them', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constantFrom(...texts), fc.string({ maxLength: 40 })), { maxLength: 4 }), (parts) =>
        iperfContract(parts.join('')),
      ),
      opts(),
    );
  });

  it('never throws on deep nesting at the top or inside a real report', () => {
    fc.assert(
      fc.property(deepNesting, fc.constantFrom(...jsonFixtures.map((f) => f.text)), (nested, text) => {
        iperfContract(nested);
        iperfContract(text.trim().replace(/}$/, `,"extra":${nested}}`));
        iperfContract(text.replace(/"end":\s*\{/, `"end":{"deep":${nested},`));
      }),
      opts(50),
    );
  });

  it('never throws on real reports whose streams array is multiplied (up to thousands of streams)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...jsonFixtures.map((f) => f.name)), fc.integer({ min: 0, max: 5000 }), (name, n) => {
        const doc = JSON.parse(read(`iperf3/${name}`)) as { end: { streams?: unknown[] } };
        const one = doc.end.streams?.[0];
        if (one !== undefined) doc.end.streams = Array.from({ length: n }, () => one);
        iperfContract(JSON.stringify(doc));
      }),
      opts(30),
    );
  });
});

// ------------------------------------------------------------------ regressions

describe('regressions found by fuzzing', () => {
  it('parseIperf3Output does not overflow the stack on a report with 200 000 streams (Math.min(...spread) threw RangeError)', () => {
    const doc = JSON.parse(read('iperf3/tcp.json')) as { end: { streams: unknown[] } };
    // A minimal stream, so the whole report stays under the runner's 16 MiB output cap (~5 MB).
    doc.end.streams = Array.from({ length: 200_000 }, (_, i) => ({ sender: { min_rtt: 100 + i, mean_rtt: 200, max_rtt: 300 + i } }));
    const text = JSON.stringify(doc);
    expect(text.length).toBeLessThan(16 * 1024 * 1024);
    const outcome = parseIperf3Output(text);
    expect(outcome.ok).toBe(true);
    if (outcome.ok) {
      expect(outcome.result.tcp?.rttMinSeconds).toBeCloseTo(100e-6);
      expect(outcome.result.tcp?.rttMaxSeconds).toBeCloseTo((300 + 199_999) * 1e-6);
      expect(outcome.result.tcp?.rttMeanSeconds).toBeCloseTo(200e-6);
    }
  });
});
