/**
 * Charts of a comparison, in the style of knb's plots: vega-lite specs (pure, testable) and
 * their SVG, rendered in Node by vega's headless view (renderer "none": no canvas needed; text
 * widths are estimated). Vega escapes every label it writes into the SVG.
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { PATHS, type Protocol } from '../../shared/protocol.js';
import { CONFIG, PATH_NAMES, runAxis, SCHEMA, WHISKER, type ChartSpec, type ConcatPanel, type RenderedChart } from './chart-style.js';
import { hasThroughput, type Comparison, type Section } from './compare.js';
import { latencyCharts } from './latency-charts.js';
import { chartBitrateUnit, pathProtocolTitle } from './units.js';

export type { ChartSpec, RenderedChart } from './chart-style.js';

/** Throughput rows of one protocol, in the unit of the chart's axis. */
function throughputRows(c: Comparison, sections: readonly Section[], unit: { bitsPerSecond: number }) {
  return sections.flatMap((s) =>
    s.runs.flatMap((f, i) => {
      const t = f.throughput;
      if (!t) return [];
      const scale = (v: number) => v / unit.bitsPerSecond;
      return [
        {
          run: c.runs[i]?.label ?? '?',
          path: PATH_NAMES[s.path],
          median: scale(t.median),
          p10: scale(t.p10),
          p90: scale(t.p90),
          label: scale(t.median).toFixed(2),
        },
      ];
    }),
  );
}

function maxP90(sections: readonly Section[]): number {
  return Math.max(0, ...sections.flatMap((s) => s.runs.map((f) => f.throughput?.p90 ?? 0)));
}

/** Bars of median throughput per run, p10-p90 error bars, the median written above. */
export function throughputChart(c: Comparison, s: Section): ChartSpec {
  const labels = c.runs.map((r) => r.label);
  const unit = chartBitrateUnit(maxP90([s]));
  const title = `${pathProtocolTitle(s.path, s.protocol)} throughput (${unit.name})`;
  return {
    file: `throughput-${s.path}-${s.protocol}.svg`,
    title,
    kind: 'throughput',
    section: { path: s.path, protocol: s.protocol },
    spec: {
      $schema: SCHEMA,
      config: CONFIG,
      title: { text: title, subtitle: 'bars: median over all tests; whiskers: p10 to p90' },
      width: Math.max(300, 90 * labels.length),
      height: 280,
      data: { values: throughputRows(c, [s], unit) },
      encoding: {
        x: { field: 'run', type: 'nominal', title: 'run', sort: labels, scale: { domain: labels }, axis: runAxis(labels) },
      },
      layer: [
        {
          mark: { type: 'bar', width: { band: 0.7 } },
          encoding: {
            y: { field: 'median', type: 'quantitative', title: `throughput (${unit.name})` },
            color: { field: 'run', type: 'nominal', sort: labels, scale: { domain: labels }, legend: null },
          },
        },
        {
          mark: { type: 'errorbar', color: WHISKER, ticks: { color: WHISKER, size: 14 }, thickness: 1.5 },
          encoding: { y: { field: 'p10', type: 'quantitative', title: `throughput (${unit.name})` }, y2: { field: 'p90' } },
        },
        {
          mark: { type: 'text', dy: -12, fontSize: 12 },
          encoding: { y: { field: 'p90', type: 'quantitative' }, text: { field: 'label' } },
        },
      ],
    },
  };
}

/** Client and server node CPU busy % per run, side by side. */
export function cpuChart(c: Comparison, s: Section): ChartSpec {
  const labels = c.runs.map((r) => r.label);
  const rows = s.runs.flatMap((f, i) => {
    const run = c.runs[i]?.label ?? '?';
    const sides: { side: string; percent: number | null }[] = [
      { side: 'client node', percent: f.clientCpuBusyPercent },
      { side: 'server node', percent: f.serverCpuBusyPercent },
    ];
    return sides.flatMap((d) => (d.percent === null ? [] : [{ run, side: d.side, percent: d.percent, label: d.percent.toFixed(1) }]));
  });
  const title = `${pathProtocolTitle(s.path, s.protocol)} node CPU busy (% of all cores)`;
  return {
    file: `cpu-${s.path}-${s.protocol}.svg`,
    title,
    kind: 'throughput',
    section: { path: s.path, protocol: s.protocol },
    spec: {
      $schema: SCHEMA,
      config: CONFIG,
      title: { text: title, subtitle: 'median over all tests, client (iperf3 -c) and server node' },
      width: Math.max(300, 120 * labels.length),
      height: 260,
      data: { values: rows },
      encoding: {
        x: { field: 'run', type: 'nominal', title: 'run', sort: labels, scale: { domain: labels }, axis: runAxis(labels) },
        xOffset: { field: 'side', type: 'nominal', sort: ['client node', 'server node'] },
      },
      layer: [
        {
          mark: 'bar',
          encoding: {
            y: { field: 'percent', type: 'quantitative', title: 'CPU busy (%)' },
            color: { field: 'side', type: 'nominal', title: null, sort: ['client node', 'server node'], legend: { orient: 'top' } },
          },
        },
        {
          mark: { type: 'text', dy: -8, fontSize: 11 },
          encoding: { y: { field: 'percent', type: 'quantitative' }, text: { field: 'label' } },
        },
      ],
    },
  };
}

/** Median throughput by path, grouped by run, one panel per protocol with its own unit. */
export function overviewChart(c: Comparison): ChartSpec | null {
  const labels = c.runs.map((r) => r.label);
  const measured = c.sections.filter(hasThroughput);
  const protocols = [...new Set(measured.map((s) => s.protocol))];
  if (protocols.length === 0) return null;
  const paths = PATHS.filter((p) => measured.some((s) => s.path === p)).map((p) => PATH_NAMES[p]);
  const panel = (protocol: Protocol): ConcatPanel => {
    const sections = measured.filter((s) => s.protocol === protocol);
    const unit = chartBitrateUnit(maxP90(sections));
    const y = `median throughput (${unit.name})`;
    return {
      title: protocol.toUpperCase(),
      width: Math.max(320, 60 * labels.length * paths.length),
      height: 280,
      data: { values: throughputRows(c, sections, unit) },
      encoding: {
        x: { field: 'path', type: 'nominal', title: null, sort: paths, scale: { domain: paths }, axis: { labelAngle: 0 } },
        xOffset: { field: 'run', type: 'nominal', sort: labels, scale: { domain: labels } },
      },
      layer: [
        {
          mark: 'bar',
          encoding: {
            y: { field: 'median', type: 'quantitative', title: y },
            color: { field: 'run', type: 'nominal', title: 'run', sort: labels, scale: { domain: labels } },
          },
        },
        {
          mark: { type: 'errorbar', color: WHISKER, ticks: { color: WHISKER, size: 10 }, thickness: 1.5 },
          encoding: { y: { field: 'p10', type: 'quantitative', title: y }, y2: { field: 'p90' } },
        },
      ],
    };
  };
  const title = 'Median throughput by path and run';
  return {
    file: 'overview.svg',
    title,
    kind: 'throughput',
    section: null,
    spec: {
      $schema: SCHEMA,
      config: CONFIG,
      title: { text: title, subtitle: 'whiskers: p10 to p90 over all tests; each protocol in its own unit' },
      hconcat: protocols.map(panel),
      resolve: { scale: { color: 'shared', y: 'independent' } },
    },
  };
}

/**
 * Every chart of a comparison: the throughput overview, then throughput and CPU per path and
 * protocol, then the latency charts (when any run measured latency).
 */
export function comparisonCharts(c: Comparison): ChartSpec[] {
  const overview = overviewChart(c);
  return [
    ...(overview ? [overview] : []),
    ...c.sections.filter(hasThroughput).flatMap((s) => [throughputChart(c, s), cpuChart(c, s)]),
    ...latencyCharts(c),
  ];
}

/** Compile a vega-lite spec and render it to an SVG document. */
export async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Render every chart of `c`. */
export async function renderCharts(c: Comparison): Promise<RenderedChart[]> {
  const out: RenderedChart[] = [];
  for (const chart of comparisonCharts(c))
    out.push({ file: chart.file, title: chart.title, kind: chart.kind, section: chart.section, svg: await renderSvg(chart.spec) });
  return out;
}
