/**
 * Latency charts of a comparison (vega-lite specs, pure): per run, the median p50 round trip
 * as a solid bar with its p10-p90 whiskers and the median p99 as a pale bar behind it, so one
 * glance gives the typical round trip and its tail. One chart per path and protocol, and an
 * overview by path with a panel per protocol.
 */
import { PATHS, type Protocol } from '../../shared/protocol.js';
import { CONFIG, PATH_NAMES, runAxis, SCHEMA, WHISKER, type ChartSpec, type ConcatPanel } from './chart-style.js';
import type { Comparison, LatencySection, Section } from './compare.js';
import { chartRttUnit, pathProtocolTitle } from './units.js';

type LatencyOf = Section & { latency: LatencySection };

const SUBTITLE = 'solid: median p50 round trip, whiskers p10 to p90; pale: median p99';

/** The p99 bar is drawn this much lighter than the run's colour. */
const P99_OPACITY = 0.35;

/** One bar pair per run and section, in the unit of the chart's axis. */
function rttRows(c: Comparison, sections: readonly LatencyOf[], unit: { microseconds: number }) {
  return sections.flatMap((s) =>
    s.latency.runs.flatMap((f, i) => {
      const p50 = f.rttP50;
      const p99 = f.rttP99;
      if (!p50 || !p99) return [];
      const scale = (v: number) => v / unit.microseconds;
      const digits = unit.microseconds === 1 ? 0 : 2;
      return [
        {
          run: c.runs[i]?.label ?? '?',
          path: PATH_NAMES[s.path],
          p50: scale(p50.median),
          p10: scale(p50.p10),
          p90: scale(p50.p90),
          p99: scale(p99.median),
          label: `${scale(p50.median).toFixed(digits)} / ${scale(p99.median).toFixed(digits)}`,
        },
      ];
    }),
  );
}

function maxRtt(sections: readonly LatencyOf[]): number {
  return Math.max(0, ...sections.flatMap((s) => s.latency.runs.map((f) => Math.max(f.rttP99?.median ?? 0, f.rttP50?.p90 ?? 0))));
}

/** The three layers every latency panel draws: p99 behind, p50 in front, p50's whiskers. */
function rttLayers(labels: readonly string[], y: string, legend: boolean) {
  const color = {
    field: 'run',
    type: 'nominal' as const,
    title: 'run',
    sort: [...labels],
    scale: { domain: [...labels] },
    legend: legend ? { symbolOpacity: 1 } : null,
  };
  return [
    {
      mark: { type: 'bar' as const, opacity: P99_OPACITY, width: { band: 0.7 } },
      encoding: { y: { field: 'p99', type: 'quantitative' as const, title: y }, color },
    },
    {
      mark: { type: 'bar' as const, width: { band: 0.7 } },
      encoding: { y: { field: 'p50', type: 'quantitative' as const, title: y }, color },
    },
    {
      mark: { type: 'errorbar' as const, color: WHISKER, ticks: { color: WHISKER, size: 10 }, thickness: 1.5 },
      encoding: { y: { field: 'p10', type: 'quantitative' as const, title: y }, y2: { field: 'p90' } },
    },
  ];
}

/** One path and protocol: a bar pair per run, "p50 / p99" written above. */
export function latencyChart(c: Comparison, s: LatencyOf): ChartSpec {
  const labels = c.runs.map((r) => r.label);
  const unit = chartRttUnit(maxRtt([s]));
  const title = `${pathProtocolTitle(s.path, s.protocol)} round-trip time (${unit.name})`;
  const y = `round trip (${unit.name})`;
  return {
    file: `latency-${s.path}-${s.protocol}.svg`,
    title,
    kind: 'latency',
    section: { path: s.path, protocol: s.protocol },
    spec: {
      $schema: SCHEMA,
      config: CONFIG,
      title: { text: title, subtitle: `${SUBTITLE}; labels: p50 / p99` },
      width: Math.max(300, 90 * labels.length),
      height: 280,
      data: { values: rttRows(c, [s], unit) },
      encoding: {
        x: { field: 'run', type: 'nominal', title: 'run', sort: labels, scale: { domain: labels }, axis: runAxis(labels) },
      },
      layer: [
        ...rttLayers(labels, y, false),
        {
          mark: { type: 'text', dy: -8, fontSize: 12 },
          encoding: { y: { field: 'p99', type: 'quantitative' }, text: { field: 'label' } },
        },
      ],
    },
  };
}

/** Median p50 and p99 round trips by path, grouped by run, one panel per protocol. */
export function latencyOverviewChart(c: Comparison, sections: readonly LatencyOf[]): ChartSpec | null {
  const labels = c.runs.map((r) => r.label);
  const protocols = [...new Set(sections.map((s) => s.protocol))];
  if (protocols.length === 0) return null;
  const paths = PATHS.filter((p) => sections.some((s) => s.path === p)).map((p) => PATH_NAMES[p]);
  // One unit for every panel: round trips of TCP and UDP are read against each other.
  const unit = chartRttUnit(maxRtt(sections));
  const panel = (protocol: Protocol): ConcatPanel => ({
    title: protocol.toUpperCase(),
    width: Math.max(320, 60 * labels.length * paths.length),
    height: 280,
    data: {
      values: rttRows(
        c,
        sections.filter((s) => s.protocol === protocol),
        unit,
      ),
    },
    encoding: {
      x: { field: 'path', type: 'nominal', title: null, sort: paths, scale: { domain: paths }, axis: { labelAngle: 0 } },
      xOffset: { field: 'run', type: 'nominal', sort: labels, scale: { domain: labels } },
    },
    layer: rttLayers(labels, `round trip (${unit.name})`, true),
  });
  const title = 'Round-trip time by path and run';
  return {
    file: 'latency.svg',
    title,
    kind: 'latency',
    section: null,
    spec: {
      $schema: SCHEMA,
      config: CONFIG,
      title: { text: title, subtitle: `${SUBTITLE}; sockperf ping-pong` },
      hconcat: protocols.map(panel),
      resolve: { scale: { color: 'shared', y: 'shared' } },
    },
  };
}

/** The latency overview and one chart per path and protocol with latency; none without latency. */
export function latencyCharts(c: Comparison): ChartSpec[] {
  const sections = c.sections.flatMap((s) => (s.latency ? [{ ...s, latency: s.latency }] : []));
  const overview = latencyOverviewChart(c, sections);
  return [...(overview ? [overview] : []), ...sections.map((s) => latencyChart(c, s))];
}
