/**
 * Writes the gauges of aggregator/figures.ts's catalogue at scrape time, by walking its rows.
 * Figures per path and per pair come from one walk over the cells; figures per node from a
 * second pass, node by node over each node's own cells, so a node's values live only while its
 * medians are taken. (Values filed per node for the whole matrix were 50 MiB held through the
 * scrape at 5,000 nodes; a walk per gauge, before that, took 4 to 5 s at 1,000 nodes.)
 *
 * Values are collected in the unit the matrix stores and converted to the base unit once, after
 * the median or spread is taken, except the units converted value by value (convertsEachValue).
 * A missing figure (null) is no value, never a 0.
 */
import { PROTOCOLS, TEST_KINDS } from '../shared/protocol.js';
import { median, spread } from '../shared/stats.js';
import { GaugeText, type Labels } from './exposition.js';
import {
  convertsEachValue,
  MATRIX_FAMILIES,
  MATRIX_FAMILY_LIST,
  toBaseUnit,
  type MatrixFamily,
  type Series,
  type Unit,
} from './figures.js';
import type { CellResult, MatrixCell } from './results.js';

export { PAIR_FAILURES_MAX_SERIES } from './figures.js';

/** One series of a family of one scope, with the index of the list its values collect in. */
interface Slot {
  family: MatrixFamily;
  series: Series;
  index: number;
  unit: Unit;
  /** Converted to the base unit value by value as collected, or once the median or spread is taken. */
  eachValue: boolean;
  /**
   * The labels of this slot's next sample, overwritten for each (path, node or pair, and stat):
   * GaugeText.sample reads them and keeps nothing, and matrixText runs to the end without
   * yielding, so one object serves every scrape, where an object per sample was garbage by the
   * hundred thousand (a tenth of a large scrape's CPU).
   */
  labels: Labels;
}

/** The labels a scope sets on each sample, before a series' own (and `stat`, set per stat). */
export const SCOPE_LABELS = {
  path: ['path', 'protocol'],
  node: ['path', 'protocol', 'node'],
  pair: ['path', 'protocol', 'source', 'target'],
};

function slot(family: MatrixFamily, series: Series, index: number): Slot {
  const unit = series.figure.unit;
  const labels: Labels = Object.fromEntries(SCOPE_LABELS[family.scope].map((name) => [name, '']));
  return { family, series, index, unit, eachValue: convertsEachValue(unit), labels: Object.assign(labels, series.labels) };
}

/** The slots of one scope, and which of them a cell of each kind and protocol feeds. */
class Slots {
  readonly all: Slot[] = [];
  /** By kind, then protocol: looked up once per cell, so no key is built. */
  private readonly fed: Record<string, Record<string, Slot[]>> = {};

  constructor(scope: MatrixFamily['scope']) {
    for (const family of MATRIX_FAMILY_LIST)
      if (family.scope === scope) for (const series of family.series) this.all.push(slot(family, series, this.all.length));
    for (const kind of TEST_KINDS) {
      const byProtocol: Record<string, Slot[]> = (this.fed[kind] = {});
      for (const protocol of PROTOCOLS)
        byProtocol[protocol] = this.all.filter(({ series: { figure: f } }) => f.kind === kind && (f.protocol ?? protocol) === protocol);
    }
  }

  of(c: MatrixCell): readonly Slot[] {
    return (this.fed[c.kind] as Record<string, Slot[]>)[c.protocol] as Slot[];
  }

  /** A list per slot, for one path's (or one node's) values. */
  lists(): number[][] {
    return this.all.map(() => []);
  }
}

const PATH = new Slots('path');
const NODE = new Slots('node');
const PAIR = new Slots('pair');

const finite = (v: number | null | undefined): v is number => v !== null && v !== undefined && Number.isFinite(v);

/** Each slot's figure of `r`, where it has one, onto that slot's list. */
function collect(slots: readonly Slot[], r: CellResult, into: number[][], end?: 'client' | 'server'): void {
  for (const s of slots) {
    if (end !== undefined && s.series.end !== undefined && s.series.end !== end) continue;
    const v = s.series.figure.read(r);
    if (finite(v)) (into[s.index] as number[]).push(s.eachValue ? toBaseUnit(v, s.unit) : v);
  }
}

/** What one path and protocol collects over all its pairs. */
class PathValues {
  readonly measured = { throughput: 0, latency: 0 };
  readonly values = PATH.lists();

  constructor(
    readonly path: string,
    readonly protocol: string,
  ) {}
}

/** What one node collects over its pairs of one path and protocol; emptied for the next node. */
class NodeValues {
  readonly values = NODE.lists();

  constructor(
    readonly path: string,
    readonly protocol: string,
  ) {}

  clear(): void {
    for (const a of this.values) a.length = 0;
  }
}

/** The matrix as /metrics reads it: every cell, and each node's cells (the node at either end). */
export interface MatrixView {
  cellsView(): Iterable<MatrixCell>;
  nodeCellsView(): Iterable<readonly [string, Iterable<MatrixCell>]>;
}

/** The text of every matrix gauge, in chunks (GaugeText.chunks). */
export function matrixText(matrix: MatrixView, o: { perPair: boolean; failingMax: number }): string[] {
  const out = new GaugeText(MATRIX_FAMILY_LIST);
  writePaths(matrix.cellsView(), out, o);
  writeNodes(matrix.nodeCellsView(), out);
  return out.chunks();
}

const pathKey = (c: MatrixCell) => (c.protocol === 'tcp' ? c.path : `${c.path}/udp`);

/** Per path and per pair, from one walk over the cells; then the longest failing runs. */
function writePaths(cells: Iterable<MatrixCell>, out: GaugeText, o: { perPair: boolean; failingMax: number }): void {
  const paths = new Map<string, PathValues>();
  const failing: MatrixCell[] = [];
  for (const c of cells) {
    if (c.consecutiveFailures > 0) failing.push(c);
    const r = c.lastSuccess;
    if (!r) continue;
    const key = pathKey(c);
    let p = paths.get(key);
    if (!p) paths.set(key, (p = new PathValues(c.path, c.protocol)));
    p.measured[c.kind]++;
    collect(PATH.of(c), r, p.values);
    if (o.perPair) writePair(out, c, r);
  }

  for (const kind of TEST_KINDS)
    for (const { path, protocol, measured } of paths.values())
      if (measured[kind] > 0) out.sample(MATRIX_FAMILIES.pairsMeasured, { path, protocol, kind }, measured[kind]);
  for (const { path, protocol, values } of paths.values())
    for (const s of PATH.all) {
      s.labels.path = path;
      s.labels.protocol = protocol;
      write(out, s, values[s.index] as number[]);
    }

  // Array.prototype.sort is stable: equal runs keep the matrix's order (least recently measured first).
  failing.sort((a, b) => b.consecutiveFailures - a.consecutiveFailures);
  for (const c of failing.slice(0, o.failingMax))
    out.sample(
      MATRIX_FAMILIES.pairFailures,
      { path: c.path, protocol: c.protocol, kind: c.kind, source: c.source, target: c.target },
      c.consecutiveFailures,
    );
}

// A failed test carries no figures and leaves the pair's previous success in place: a pair that
// never succeeded has no series, never a 0 s round trip.
function writePair(out: GaugeText, c: MatrixCell, r: CellResult): void {
  for (const s of PAIR.of(c)) {
    const v = s.series.figure.read(r);
    if (!finite(v)) continue;
    const l = s.labels;
    l.path = c.path;
    l.protocol = c.protocol;
    l.source = c.source;
    l.target = c.target;
    out.sample(s.family, l, toBaseUnit(v, s.unit));
  }
}

/** Per node: each node's cells, its values by path and protocol, their medians, then the next node. */
function writeNodes(nodes: Iterable<readonly [string, Iterable<MatrixCell>]>, out: GaugeText): void {
  // Emptied after each node: a path and protocol the node has no cells of writes nothing.
  const scratch = new Map<string, NodeValues>();
  const worst: Array<number | null> = NODE.all.map(() => null);
  for (const [node, cells] of nodes) {
    for (const c of cells) {
      const r = c.lastSuccess;
      if (!r) continue;
      const key = pathKey(c);
      let v = scratch.get(key);
      if (!v) scratch.set(key, (v = new NodeValues(c.path, c.protocol)));
      collect(NODE.of(c), r, v.values, c.source === node ? 'client' : 'server');
    }
    for (const { path, protocol, values } of scratch.values()) {
      for (const s of NODE.all) {
        const list = values[s.index] as number[];
        if (s.family.aggregate.of !== 'worst-path-median') {
          s.labels.path = path;
          s.labels.protocol = protocol;
          s.labels.node = node;
          write(out, s, list);
        } else if (list.length > 0) worst[s.index] = Math.max(worst[s.index] ?? 0, median(list) as number);
      }
    }
    for (const v of scratch.values()) v.clear();
    for (const s of NODE.all) {
      const w = worst[s.index];
      if (w === null || w === undefined) continue;
      s.labels.node = node;
      out.sample(s.family, s.labels, s.eachValue ? w : toBaseUnit(w, s.unit));
      worst[s.index] = null;
    }
  }
}

/** A slot's series of one path (or node) from its values, by its family's aggregate; no values, no series. */
function write(out: GaugeText, s: Slot, values: number[]): void {
  if (values.length === 0) return;
  const { family, labels } = s;
  const a = family.aggregate;
  const base = (v: number) => (s.eachValue ? v : toBaseUnit(v, s.unit));
  if (a.of === 'median') out.sample(family, labels, base(median(values) as number));
  else if (a.of === 'max') out.sample(family, labels, base(max(values)));
  else if (a.of === 'spread') {
    const sp = spread(values);
    if (sp)
      for (const stat of a.stats) {
        labels.stat = stat;
        out.sample(family, labels, base(sp[stat]));
      }
  } else throw new Error(`${family.name}: aggregate ${a.of} is not written per path or node`);
}

/** A loop, not Math.max(...values): a path of a large mesh has more values than a call takes arguments. */
function max(values: readonly number[]): number {
  let m = -Infinity;
  for (const v of values) if (v > m) m = v;
  return m;
}
