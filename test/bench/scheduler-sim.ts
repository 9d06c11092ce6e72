/**
 * `npm run bench:scheduler`: the background scheduler at size, simulated. The real Scheduler
 * class runs against an in-memory AgentRegistry of fake agent sessions, a test runner that
 * answers at once with a modelled result, and virtual time (sleep advances a virtual clock, now
 * reads it), so a virtual day of 5,000 nodes runs here in seconds. No iperf3, no network.
 *
 * A benchmark, not a test: it prints one table, each figure against a stated bound (PASS/MISS),
 * and exits 0 whenever it ran. For N nodes in 3 equal zones, on one path and protocol:
 *   - full coverage: rounds per full sweep against the 2(N-1) lower bound (each node must take
 *     part in N-1 tests per direction, one at a time), and the time to plan one round (see
 *     fullSweep for which figure comes from where);
 *   - budget coverage (3 reference peers, 1 cross-zone peer, 10,000 tests/hour, 10 s tests,
 *     50 at once) over one virtual day: tests run against the budget, the busiest hour, coverage
 *     of the candidate pairs against the best possible, the oldest and median candidate's age
 *     against the ideal round-robin's, fairness (Jain's index of tests per node), plan time.
 *
 *   npm run bench:scheduler -- [--nodes 100,1000,5000] [--hours 24] [--json FILE] [--smoke]
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { AgentRegistry, type AgentSession } from '../../aggregator/agents.js';
import { FullCoverage } from '../../aggregator/planning/full.js';
import { Scheduler, type RoundPlanned, type SchedulerSettings } from '../../aggregator/scheduler.js';
import type { TestPlan } from '../../aggregator/test-runner.js';
import type { TestResult } from '../../shared/result.js';
import { testIdentity } from '../helpers/identity.js';
import { seededRandom } from '../helpers/prng.js';
import { schedulerTestSettings } from '../helpers/scheduler-settings.js';
import { writeSummary } from './summary.js';

const ZONES = 3;
/** The second budget run at the largest size: zones of this many nodes (racks, say), so that a whole cycle fits in the run. */
const RACK_NODES = 20;
const TEST_SECONDS = 10;
const TESTS_PER_HOUR = 10_000;
const CONCURRENCY = 50;
const REFERENCE_PEERS = 3;
const CROSS_ZONE_PEERS = 1;
/** Planning one round must cost under 1% of a test. */
const PLAN_MS_BOUND = (TEST_SECONDS * 1000) / 100;

interface Options {
  nodes: number[];
  hours: number;
  testsPerHour: number;
  /** Where to write npm run bench's summary rows, if anywhere. */
  json: string | undefined;
}

/** Virtual time: sleeps are timers on a heap, fired in order once every promise chain has settled. */
class VirtualClock {
  private t = Date.UTC(2026, 0, 5);
  private seq = 0;
  private readonly heap: Array<{ at: number; seq: number; resolve: () => void }> = [];

  readonly now = (): Date => new Date(this.t);
  get ms(): number {
    return this.t;
  }

  readonly sleep = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      this.push({ at: this.t + Math.max(0, ms), seq: this.seq++, resolve });
    });

  /** Fire timers up to virtual time `until`, or until `done()`. */
  async run(until: number, done: () => boolean = () => false): Promise<void> {
    for (;;) {
      // Every chain the last timers woke runs to its next sleep before time moves on.
      await new Promise<void>((r) => setImmediate(r));
      const next = this.heap[0];
      if (!next || next.at > until || done()) return;
      this.t = next.at;
      while (this.heap[0] && this.heap[0].at === this.t) this.pop()?.resolve();
    }
  }

  private less(i: number, j: number): boolean {
    const a = this.heap[i];
    const b = this.heap[j];
    return !!a && !!b && (a.at < b.at || (a.at === b.at && a.seq < b.seq));
  }

  private swap(i: number, j: number): void {
    [this.heap[i], this.heap[j]] = [this.heap[j] as (typeof this.heap)[0], this.heap[i] as (typeof this.heap)[0]];
  }

  private push(x: (typeof this.heap)[0]): void {
    this.heap.push(x);
    for (let i = this.heap.length - 1; i > 0 && this.less(i, (i - 1) >> 1); i = (i - 1) >> 1) this.swap(i, (i - 1) >> 1);
  }

  private pop(): (typeof this.heap)[0] | undefined {
    const top = this.heap[0];
    const last = this.heap.pop();
    if (this.heap.length > 0 && last) {
      this.heap[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.heap.length && this.less(l, m)) m = l;
        if (r < this.heap.length && this.less(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

const nodeName = (i: number) => `node-${String(i).padStart(5, '0')}`;
const zoneOf = (node: string, zones = ZONES) => `zone-${Number(node.slice(5)) % zones}`;

function session(node: string): AgentSession {
  const identity = testIdentity({ nodeName: node, mode: 'host', hostIp: '198.18.0.11', podIp: '198.18.0.11' });
  return { id: `${node}/host`, identity, connectedAt: new Date(0), send: () => true, close: () => undefined };
}

function agentsFor(n: number, registry: AgentRegistry): AgentRegistry {
  for (let i = 0; i < n; i++) registry.add(session(nodeName(i)));
  return registry;
}

/** A successful throughput result of `plan`: what the scheduler passes on, shaped as the runner's. */
function modelledResult(plan: TestPlan, at: Date): TestResult {
  const side = (node: string) => ({ node, pod: '', topology: null, cpu: null, cpuSecondsPerGigabyte: null, nic: null });
  const source = plan.client.identity.nodeName;
  const target = plan.server.identity.nodeName;
  // Within a zone 9.4 Gbit/s, across zones 4.7: a figure, never read by the scheduler.
  const rate = zoneOf(source) === zoneOf(target) ? 9.4e9 : 4.7e9;
  const bytes = (rate * TEST_SECONDS) / 8;
  const stamp = at.toISOString();
  return {
    id: `${source}>${target}@${stamp}`,
    runId: plan.runId,
    label: plan.label,
    kind: 'throughput',
    path: plan.path,
    protocol: plan.protocol,
    spec: plan.spec,
    source: side(source),
    target: { address: plan.targetAddress, port: 5201, ...side(target) },
    startedAt: stamp,
    endedAt: stamp,
    ok: true,
    error: null,
    throughputBitsPerSecond: rate,
    iperf: {
      sentBytes: bytes,
      receivedBytes: bytes,
    } as TestResult['iperf'],
    serverIperf: null,
    latency: null,
  };
}

const baseSettings: SchedulerSettings = schedulerTestSettings({
  durationSeconds: TEST_SECONDS,
  concurrency: CONCURRENCY,
  pauseMs: 1000,
  latencyDurationSeconds: 2,
  pauseJitterPercent: 10,
});

interface Simulation {
  clock: VirtualClock;
  scheduler: Scheduler;
  planned: RoundPlanned[];
  /** Virtual start time of every test, in order, with its nodes. */
  starts: Array<{ at: number; source: string; target: string }>;
  sweeps: number[];
}

function simulate(n: number, settings: Partial<SchedulerSettings>, sleepsPerTest: boolean, zones = ZONES): Simulation {
  const clock = new VirtualClock();
  const planned: RoundPlanned[] = [];
  const starts: Simulation['starts'] = [];
  const sweeps: number[] = [];
  const scheduler = new Scheduler({
    agents: agentsFor(n, new AgentRegistry()),
    settings: { ...baseSettings, ...settings },
    serviceAddress: () => undefined,
    runTest: async (plan) => {
      starts.push({ at: clock.ms, source: plan.client.identity.nodeName, target: plan.server.identity.nodeName });
      if (sleepsPerTest) await clock.sleep(TEST_SECONDS * 1000);
      return modelledResult(plan, clock.now());
    },
    unrunnable: () => {
      throw new Error('every simulated agent is present');
    },
    onResult: () => undefined,
    onSweepCompleted: () => void sweeps.push(planned.length),
    onRoundPlanned: (p) => void planned.push(p),
    topology: (node) => ({ zone: zoneOf(node, zones), region: null, instanceType: null }),
    random: seededRandom(n),
    sleep: clock.sleep,
    now: clock.now,
    log: pino({ level: 'silent' }),
  });
  return { clock, scheduler, planned, starts, sweeps };
}

async function stop(sim: Simulation): Promise<void> {
  let stopped = false;
  const done = sim.scheduler.stop().then(() => (stopped = true));
  await sim.clock.run(Number.POSITIVE_INFINITY, () => stopped);
  await done;
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : (s[(s.length - 1) >> 1] as number);
};

/** Jain's fairness index of `xs`: 1 when all are equal, 1/n when one has everything. */
const jain = (xs: readonly number[]) => {
  const sum = xs.reduce((a, b) => a + b, 0);
  const squares = xs.reduce((a, b) => a + b * b, 0);
  return squares === 0 ? 1 : (sum * sum) / (xs.length * squares);
};

interface Row {
  figure: string;
  n: number;
  zones: number;
  value: string;
  bound: string;
  pass: boolean;
}

/**
 * Full coverage. Rounds per sweep: the scheduler's full-coverage planner (FullCoverage, what
 * Scheduler calls for each round) taken round by round through one whole sweep, without running
 * its N(N-1) tests (25 million at 5,000 nodes). Plan time: the real Scheduler in full mode, over
 * its first rounds. Up to 100 nodes the whole sweep also runs through the scheduler, as a check.
 */
async function fullSweep(n: number): Promise<Row[]> {
  const members = Array.from({ length: n }, (_, i) => nodeName(i));
  const planner = new FullCoverage(0);
  let rounds = 0;
  while (!planner.next(members, () => true, Number.POSITIVE_INFINITY, rounds).completed) rounds++;

  // Every disjoint pair of a round at once, answered without waiting. The 1 ms pause hands
  // control back to the virtual clock between rounds.
  const sim = simulate(n, { coverage: 'full', concurrency: Math.ceil(n / 2), pauseMs: 1, pauseJitterPercent: 0 }, false);
  const throughScheduler = n <= 100;
  sim.scheduler.start();
  await sim.clock.run(Number.POSITIVE_INFINITY, () => (throughScheduler ? sim.sweeps.length > 0 : sim.planned.length >= 20));
  await stop(sim);
  const lowerBound = 2 * (n - 1);
  const bound = n % 2 === 0 ? lowerBound : 2 * n;
  const planMs = median(sim.planned.map((p) => p.planMs));
  const rows: Row[] = [
    {
      figure: 'full: rounds per sweep / 2(N-1)',
      n,
      zones: 0,
      value: `${rounds} / ${lowerBound} = ${(rounds / lowerBound).toFixed(3)}`,
      bound: n % 2 === 0 ? '= 1.000' : `<= ${(bound / lowerBound).toFixed(3)} (odd N: 2N)`,
      pass: rounds <= bound,
    },
  ];
  if (throughScheduler) {
    const seen = sim.sweeps[0] ?? Number.NaN;
    rows.push({
      figure: 'full: same, through the Scheduler',
      n,
      zones: 0,
      value: String(seen),
      bound: `= ${rounds}`,
      pass: seen === rounds,
    });
  }
  rows.push({
    figure: 'full: plan one round, median ms',
    n,
    zones: 0,
    value: planMs.toFixed(2),
    bound: `<= ${PLAN_MS_BOUND}`,
    pass: planMs <= PLAN_MS_BOUND,
  });
  return rows;
}

/** Budget coverage: one virtual run of `hours`; budget, coverage, staleness, fairness, plan time. */
async function budgetDay(n: number, zones: number, o: Options): Promise<Row[]> {
  const sim = simulate(
    n,
    {
      coverage: 'budget',
      testsPerHour: o.testsPerHour,
      referencePeers: REFERENCE_PEERS,
      crossZonePeers: CROSS_ZONE_PEERS,
    },
    true,
    zones,
  );
  const begin = sim.clock.ms;
  const end = begin + o.hours * 3_600_000;
  sim.scheduler.start();
  await sim.clock.run(end);
  const figures = sim.scheduler.staleness(new Date(end))[0];
  await stop(sim);
  const starts = sim.starts.filter((s) => s.at < end);
  if (!figures) throw new Error('the scheduler reported no staleness');

  const budget = o.testsPerHour * o.hours;
  let busiestHour = 0;
  for (let i = 0, j = 0; j < starts.length; j++) {
    while ((starts[i]?.at ?? 0) <= (starts[j]?.at ?? 0) - 3_600_000) i++;
    busiestHour = Math.max(busiestHour, j - i + 1);
  }
  const perNode = new Map<string, number>();
  for (const s of starts) for (const x of [s.source, s.target]) perNode.set(x, (perNode.get(x) ?? 0) + 1);
  const counts = Array.from({ length: n }, (_, i) => perNode.get(nodeName(i)) ?? 0);
  // The first hour too: a day's total can hide nodes that waited hours for their first test.
  const firstHour = new Map<string, number>();
  for (const s of starts.filter((x) => x.at < begin + 3_600_000))
    for (const x of [s.source, s.target]) firstHour.set(x, (firstHour.get(x) ?? 0) + 1);
  const firstHourCounts = Array.from({ length: n }, (_, i) => firstHour.get(nodeName(i)) ?? 0);
  // The best any planner can do with these tests: each candidate once before any twice, evenly.
  const tests = starts.length;
  const rate = tests / o.hours;
  const hours = (s: number) => s / 3600;
  // The newest cross-zone sample (one pair per node) may not be measured yet: it rotates in as soon
  // as the last one has been.
  const idealCoverage = Math.min(1, tests / figures.pairs) - (n * CROSS_ZONE_PEERS) / figures.pairs;
  const idealMax = Math.min(o.hours, figures.pairs / rate);
  const idealMedian = Math.min(o.hours, figures.pairs / (2 * rate));
  const coverage = figures.measured / figures.pairs;
  const planMs = median(sim.planned.map((p) => p.planMs));
  const fairness = jain(counts);
  const firstHourFairness = jain(firstHourCounts);
  return [
    {
      figure: `budget: tests in ${o.hours} h / budget`,
      n,
      zones,
      value: `${tests} / ${budget} = ${(tests / budget).toFixed(3)}`,
      bound: '0.950 .. 1.000',
      pass: tests <= budget && tests >= 0.95 * budget,
    },
    {
      figure: 'budget: busiest hour, tests',
      n,
      zones,
      value: String(busiestHour),
      bound: `<= ${o.testsPerHour}`,
      pass: busiestHour <= o.testsPerHour,
    },
    {
      figure: `budget: coverage of ${figures.pairs} candidates`,
      n,
      zones,
      value: coverage.toFixed(4),
      bound: `>= 0.99 x ${idealCoverage.toFixed(4)}`,
      pass: coverage >= 0.99 * idealCoverage,
    },
    {
      figure: 'budget: oldest candidate, hours',
      n,
      zones,
      value: hours(figures.maxSeconds).toFixed(2),
      bound: `<= 1.25 x ${idealMax.toFixed(2)}`,
      pass: hours(figures.maxSeconds) <= 1.25 * idealMax,
    },
    {
      figure: 'budget: median candidate, hours',
      n,
      zones,
      value: hours(figures.medianSeconds).toFixed(2),
      bound: `<= 1.25 x ${idealMedian.toFixed(2)}`,
      pass: hours(figures.medianSeconds) <= 1.25 * idealMedian,
    },
    {
      figure: 'budget: fairness, Jain (max/min tests)',
      n,
      zones,
      value: `${fairness.toFixed(4)} (${Math.max(...counts)}/${Math.min(...counts)})`,
      bound: '>= 0.95',
      pass: fairness >= 0.95,
    },
    {
      figure: 'budget: fairness in the first hour',
      n,
      zones,
      value: `${firstHourFairness.toFixed(4)} (${Math.max(...firstHourCounts)}/${Math.min(...firstHourCounts)})`,
      bound: '>= 0.90',
      pass: firstHourFairness >= 0.9,
    },
    {
      figure: 'budget: plan one round, median ms',
      n,
      zones,
      value: planMs.toFixed(2),
      bound: `<= ${PLAN_MS_BOUND}`,
      pass: planMs <= PLAN_MS_BOUND,
    },
  ];
}

/** What the real AgentRegistry's lookups cost per budget round at `n` nodes (members + 2 per test). */
function registryCostMs(n: number): number {
  const registry = agentsFor(n, new AgentRegistry());
  const names = registry.nodesWith('host');
  const t = performance.now();
  const rounds = 5;
  for (let r = 0; r < rounds; r++) {
    registry.nodesWith('host');
    for (let i = 0; i < 2 * CONCURRENCY; i++) registry.find(names[(r * 997 + i * 31) % n] as string, 'host');
  }
  return (performance.now() - t) / rounds;
}

function table(rows: readonly Row[]): string {
  const head = ['figure', 'N', 'zones', 'value', 'bound', ''];
  const cells = rows.map((r) => [r.figure, String(r.n), r.zones > 0 ? String(r.zones) : '-', r.value, r.bound, r.pass ? 'PASS' : 'MISS']);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: readonly string[]) => `| ${c.map((x, i) => x.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

function parseOptions(argv: string[]): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      nodes: { type: 'string', default: '100,1000,5000' },
      hours: { type: 'string', default: '24' },
      smoke: { type: 'boolean', default: false },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  if (values.smoke) return { nodes: [20], hours: 2, testsPerHour: 1000, json: values.json };
  const nodes = values.nodes.split(',').map(Number);
  const hours = Number(values.hours);
  if (nodes.some((x) => !Number.isInteger(x) || x < 2 || x > 60_000))
    throw new Error(`--nodes takes node counts from 2 to 60000, got "${values.nodes}"`);
  if (!(hours > 0)) throw new Error(`--hours takes a positive number, got "${values.hours}"`);
  return { nodes, hours, testsPerHour: TESTS_PER_HOUR, json: values.json };
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if (o === 'help') {
    console.log('npm run bench:scheduler -- [--nodes 100,1000,5000] [--hours 24] [--json FILE] [--smoke]');
    return;
  }
  const began = performance.now();
  const rows: Row[] = [];
  const progress = (what: string) => console.error(`${((performance.now() - began) / 1000).toFixed(1)} s: ${what}`);
  for (const n of o.nodes) {
    progress(`full sweep, ${n} nodes`);
    rows.push(...(await fullSweep(n)));
  }
  for (const n of o.nodes) {
    progress(`budget, ${o.hours} virtual hours, ${n} nodes`);
    rows.push(...(await budgetDay(n, ZONES, o)));
  }
  // With 3 zones the candidates of thousands of nodes take weeks to go round; zones of a rack's
  // size bring a whole cycle, and so the oldest pair's age in the steady state, within the run.
  const biggest = Math.max(...o.nodes);
  progress(`budget, ${o.hours} virtual hours, ${biggest} nodes in zones of ${RACK_NODES}`);
  rows.push(...(await budgetDay(biggest, Math.ceil(biggest / RACK_NODES), o)));
  console.log(
    `Scheduler at size: one path and protocol, ${TEST_SECONDS} s tests, nodes in equal zones; budget mode: ${o.testsPerHour} tests/h, ` +
      `${CONCURRENCY} at once, ${REFERENCE_PEERS} reference peers, ${CROSS_ZONE_PEERS} cross-zone peer, ${o.hours} virtual hours.`,
  );
  console.log(table(rows));
  console.log(
    `Not in the table: the AgentRegistry's lookups (nodesWith + 2 find per test, indexed) cost ` +
      `${registryCostMs(biggest).toFixed(3)} ms per ${CONCURRENCY}-test round at ${biggest} nodes.`,
  );
  if (o.json)
    writeSummary(
      o.json,
      rows.map((r) => ({
        bench: 'scheduler',
        figure: `${r.figure}, N=${r.n}${r.zones > 0 ? `, ${r.zones} zones` : ''}`,
        value: r.value,
        bound: r.bound,
        pass: r.pass,
      })),
    );
  console.log(
    `${rows.filter((r) => !r.pass).length} of ${rows.length} figures missed their bound; wall clock ${((performance.now() - began) / 1000).toFixed(1)} s.`,
  );
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
