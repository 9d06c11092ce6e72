/**
 * What every chart of a comparison shares: the chart types, the vega-lite schema and look,
 * the whisker colour, path names and the run axis. Pure: specs only, nothing rendered here.
 */
import type * as vl from 'vega-lite';
import type { Path, Protocol, TestKind } from '../../shared/protocol.js';

/** One chart: where it goes (a file name in the SVG directory) and what it shows. */
export interface ChartSpec {
  file: string;
  title: string;
  /** The kind of test whose figures it shows; the HTML report places it by this and `section`. */
  kind: TestKind;
  /** The path and protocol it belongs to; null for the overview. */
  section: { path: Path; protocol: Protocol } | null;
  spec: vl.TopLevelSpec;
}

export interface RenderedChart {
  file: string;
  title: string;
  kind: TestKind;
  section: ChartSpec['section'];
  svg: string;
}

export const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

export const CONFIG: vl.Config = {
  font: 'sans-serif',
  background: 'white',
  title: { fontSize: 15, subtitleFontSize: 12, anchor: 'start', subtitleColor: '#444' },
  axis: { labelFontSize: 12, titleFontSize: 13, labelLimit: 240, titlePadding: 10 },
  legend: { labelFontSize: 12, titleFontSize: 12, labelLimit: 240 },
  view: { stroke: null },
};

/** One panel of a horizontal concatenation (vega-lite exports no name for it). */
export type ConcatPanel = Extract<vl.TopLevelSpec, { hconcat: unknown }>['hconcat'][number];

/** Whiskers in near-black, so they read over bars of any run's colour. */
export const WHISKER = '#222';

export const PATH_NAMES: Record<Path, string> = { node: 'node-to-node', pod: 'pod-to-pod', service: 'pod-to-service' };

/** Long labels are slanted so they neither overlap nor get cut. */
export function runAxis(labels: readonly string[]): { labelAngle: number } {
  return { labelAngle: labels.some((l) => l.length > 10) ? -30 : 0 };
}
