/**
 * The few panel, variable and layout shapes the netmatrix dashboards are made of, on top of the
 * Grafana Foundation SDK builders: every panel reads the `$datasource` variable, every query is
 * a `Query` from queries.ts, and `finish()` numbers the panels and checks the layout.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as heatmap from '@grafana/grafana-foundation-sdk/heatmap';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import type { Query } from './queries.js';

/** Every panel and query uses the data source picked in the `datasource` variable. */
export const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

/** The tag every netmatrix dashboard carries; the dashboards link to each other through it. */
export const TAG = 'netmatrix';

interface PanelOptions {
  title: string;
  description: string;
  queries: Query[];
  /** Grid columns out of 24. */
  width: number;
  height?: number;
  unit?: string;
  /** Colour scales run green to red towards worse: high is good (throughput) unless this is set (latency). */
  lowerIsBetter?: boolean;
}

const refId = (i: number) => String.fromCharCode(65 + i);

function targets(queries: Query[], kind: 'range' | 'instant', format = prometheus.PromQueryFormat.TimeSeries) {
  return queries.map((q, i) => {
    const t = new prometheus.DataqueryBuilder()
      .datasource(DATASOURCE)
      .refId(refId(i))
      .expr(q.expr)
      .legendFormat(q.legend)
      .editorMode(prometheus.QueryEditorMode.Code)
      .format(format);
    return kind === 'instant' ? t.instant() : t.range();
  });
}

/** A time series of range queries. */
export function timeseriesPanel(o: PanelOptions): timeseries.PanelBuilder {
  return new timeseries.PanelBuilder()
    .title(o.title)
    .description(o.description)
    .datasource(DATASOURCE)
    .targets(targets(o.queries, 'range'))
    .unit(o.unit ?? 'short')
    .span(o.width)
    .height(o.height ?? 8)
    .lineWidth(1)
    .fillOpacity(10)
    .spanNulls(true)
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.Table)
        .placement(common.LegendPlacement.Bottom)
        .calcs(['lastNotNull', 'min', 'max']),
    );
}

/** Big numbers of instant queries, one per series. */
export function statPanel(o: PanelOptions): stat.PanelBuilder {
  return new stat.PanelBuilder()
    .title(o.title)
    .description(o.description)
    .datasource(DATASOURCE)
    .targets(targets(o.queries, 'instant'))
    .unit(o.unit ?? 'short')
    .span(o.width)
    .height(o.height ?? 8)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .colorMode(common.BigValueColorMode.None)
    .graphMode(common.BigValueGraphMode.None);
}

/** A table of instant queries, one row per series (labels as columns). */
export function tablePanel(o: PanelOptions & { transformations?: dashboard.DataTransformerConfig[] }): table.PanelBuilder {
  return new table.PanelBuilder()
    .title(o.title)
    .description(o.description)
    .datasource(DATASOURCE)
    .targets(targets(o.queries, 'instant', prometheus.PromQueryFormat.Table))
    .unit(o.unit ?? 'short')
    .span(o.width)
    .height(o.height ?? 8)
    .transformations(
      o.transformations ?? [{ id: 'organize', options: { excludeByName: { Time: true, __name__: true, job: true, instance: true } } }],
    );
}

/**
 * A source x target matrix of one instant query: rows are sources, columns targets, cells
 * coloured by value (Grafana's "grouping to matrix" transformation).
 */
export function matrixPanel(o: PanelOptions): table.PanelBuilder {
  return tablePanel({
    ...o,
    transformations: [
      { id: 'groupingToMatrix', options: { columnField: 'target', rowField: 'source', valueField: 'Value', emptyValue: 'null' } },
      { id: 'organize', options: { renameByName: { 'source\\target': 'source \\ target' } } },
    ],
  })
    .colorScheme(
      new dashboard.FieldColorBuilder().mode(
        o.lowerIsBetter ? dashboard.FieldColorModeId.ContinuousGrYlRd : dashboard.FieldColorModeId.ContinuousRdYlGr,
      ),
    )
    .cellOptions({ type: common.TableCellDisplayMode.ColorBackground });
}

/** A heatmap whose rows are the series of a range query (no bucketing: each series is a row). */
export function heatmapPanel(o: PanelOptions): heatmap.PanelBuilder {
  return new heatmap.PanelBuilder()
    .title(o.title)
    .description(o.description)
    .datasource(DATASOURCE)
    .targets(targets(o.queries, 'range'))
    .unit(o.unit ?? 'short')
    .span(o.width)
    .height(o.height ?? 10)
    .calculate(false)
    .color(
      new heatmap.HeatmapColorOptionsBuilder()
        .mode(heatmap.HeatmapColorMode.Scheme)
        .scheme('RdYlGn')
        .scale(heatmap.HeatmapColorScale.Linear)
        .steps(64)
        .reverse(o.lowerIsBetter ?? false),
    )
    .cellValues(new heatmap.CellValuesBuilder().unit(o.unit ?? 'short'))
    .showLegend();
}

/**
 * A heatmap of a Prometheus histogram over time: one query of `sum by (le) (increase(..._bucket))`,
 * read as buckets by their upper bound; each column counts the observations of its interval.
 */
export function distributionPanel(o: PanelOptions): heatmap.PanelBuilder {
  return (
    new heatmap.PanelBuilder()
      .title(o.title)
      .description(o.description)
      .datasource(DATASOURCE)
      .targets(targets(o.queries, 'range', prometheus.PromQueryFormat.Heatmap))
      .span(o.width)
      .height(o.height ?? 10)
      .calculate(false)
      .rowsFrame(new heatmap.RowsHeatmapOptionsBuilder().layout(common.HeatmapCellLayout.Le))
      .yAxis(new heatmap.YAxisConfigBuilder().unit(o.unit ?? 'short'))
      .color(
        new heatmap.HeatmapColorOptionsBuilder()
          .mode(heatmap.HeatmapColorMode.Scheme)
          .scheme('Oranges')
          .scale(heatmap.HeatmapColorScale.Exponential)
          .exponent(0.5)
          .steps(64),
      )
      // An empty bucket stays blank rather than the palette's faintest colour.
      .filterValues(new heatmap.FilterValueRangeBuilder().le(0))
      .cellGap(1)
      .cellValues(new heatmap.CellValuesBuilder().unit('short'))
      .showLegend()
  );
}

/** The Prometheus data source to read from. */
export function datasourceVariable(): dashboard.DatasourceVariableBuilder {
  return new dashboard.DatasourceVariableBuilder('datasource').label('Data source').type('prometheus');
}

/**
 * A variable of one label's values. `multi`: several values and "All" (as the regex `.*`), for
 * queries that match with `=~`.
 */
export function labelVariable(name: string, label: string, query: string, multi: boolean): dashboard.QueryVariableBuilder {
  const v = new dashboard.QueryVariableBuilder(name)
    .label(label)
    .datasource(DATASOURCE)
    .query(query)
    .definition(query)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc);
  return multi ? v.multi(true).includeAll(true).allValue('.*') : v.multi(false).includeAll(false);
}

/** An expanded row header; the panels after it (up to the next row) are its panels. */
export function row(title: string): dashboard.RowBuilder {
  return new dashboard.RowBuilder(title).collapsed(false);
}

/** A dashboard with the settings all netmatrix dashboards share. */
export function newDashboard(uid: string, title: string, description: string): dashboard.DashboardBuilder {
  return (
    new dashboard.DashboardBuilder(title)
      .uid(uid)
      .description(description)
      .tags([TAG])
      .editable()
      // Grafana's quirk: the time zone is a string, and 'browser' shows the viewer's local time.
      .timezone('browser')
      .time({ from: 'now-6h', to: 'now' })
      .refresh('1m')
      .tooltip(dashboard.DashboardCursorSync.Crosshair)
      .link(
        new dashboard.DashboardLinkBuilder('netmatrix')
          .type(dashboard.DashboardLinkType.Dashboards)
          .tags([TAG])
          .asDropdown(true)
          .includeVars(true)
          .keepTime(true),
      )
  );
}

/**
 * Build the dashboard, give every panel a stable id in layout order, and check the layout:
 * every line of panels fills the 24 grid columns exactly.
 */
export function finish(builder: dashboard.DashboardBuilder): dashboard.Dashboard {
  const d = builder.build();
  const panels = d.panels ?? [];
  const widthAt = new Map<number, number>();
  panels.forEach((p, i) => {
    p.id = i + 1;
    if (p.type === 'row') return;
    const pos = p.gridPos;
    if (!pos) throw new Error(`${d.title}: panel "${p.title}" has no position`);
    widthAt.set(pos.y, (widthAt.get(pos.y) ?? 0) + pos.w);
  });
  for (const [y, w] of widthAt) if (w !== 24) throw new Error(`${d.title}: the panels at y=${y} are ${w} columns wide, not 24`);
  return d;
}
