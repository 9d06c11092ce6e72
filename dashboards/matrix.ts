/**
 * netmatrix matrix: every ordered pair of nodes of one path and protocol, as a source x target
 * matrix of the latest throughput and round trip, over time, and the pairs that fail.
 */
import { MATRIX_METRIC as M, PAIR_FAILURES_MAX_SERIES } from '../aggregator/figures.js';
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { datasourceVariable, finish, heatmapPanel, labelVariable, matrixPanel, newDashboard, row, tablePanel } from './panels.js';
import { MATRIX as Q, VARIABLE_QUERIES } from './queries.js';

const RTT_NOTE =
  'FULL round trips (request sent to reply received) measured by sockperf ping-pong, from the latest successful latency test of each pair.';
/** The latency heatmaps fall back to per-node series; the note says so. */
const PER_PAIR_OR_NODE_NOTE =
  'Per-pair series grow as N²: above NETMATRIX_PER_PAIR_MAX_NODES nodes (default 10) the aggregator exports none, and each ' +
  "row is then a node: the median over all its pairs. Every pair is always at the aggregator's /api/matrix.";
const PER_PAIR_NOTE =
  'Per-pair series grow as N²: the aggregator exports them only up to NETMATRIX_PER_PAIR_MAX_NODES nodes (default 10; ' +
  'NETMATRIX_PER_PAIR_METRICS=always or never overrides). Above that this panel is empty, and the full matrix is at the ' +
  "aggregator's /api/matrix.";

export function matrixDashboard(): dashboard.Dashboard {
  return finish(
    newDashboard(
      'netmatrix-matrix',
      'netmatrix / Matrix',
      'Throughput and round trip of every ordered pair of nodes (source x target) for one path and protocol, and the pairs that fail.',
    )
      .withVariable(datasourceVariable())
      .withVariable(labelVariable('path', 'Path', VARIABLE_QUERIES.path, false))
      .withVariable(labelVariable('protocol', 'Protocol', VARIABLE_QUERIES.protocol, false))
      .withRow(row('Latest result of each pair ($path $protocol)'))
      .withPanel(
        matrixPanel({
          title: 'Throughput matrix: source (rows) x target (columns)',
          description: `Throughput at the receiver of the latest successful test of each ordered pair. ${PER_PAIR_NOTE}`,
          queries: [Q.pairThroughput],
          unit: 'bps',
          width: 24,
          height: 12,
        }),
      )
      .withPanel(
        matrixPanel({
          title: 'Round-trip matrix (p50): source (rows) x target (columns)',
          description: `Median round trip of the latest successful latency test of each ordered pair. ${RTT_NOTE} ${PER_PAIR_NOTE}`,
          queries: [Q.pairRttP50],
          unit: 's',
          lowerIsBetter: true,
          width: 24,
          height: 12,
        }),
      )
      .withRow(row('Over time'))
      .withPanel(
        heatmapPanel({
          title: 'Throughput of each pair over time',
          description: `One row per ordered pair (source → target), coloured by throughput. ${PER_PAIR_NOTE}`,
          queries: [Q.pairThroughput],
          unit: 'bps',
          width: 24,
          height: 12,
        }),
      )
      .withPanel(
        heatmapPanel({
          title: 'Median round trip (p50) of each pair over time',
          description: `One row per ordered pair (source → target), coloured by its median round trip. ${RTT_NOTE} ${PER_PAIR_OR_NODE_NOTE}`,
          queries: [Q.pairRttP50OrNode],
          unit: 's',
          lowerIsBetter: true,
          width: 12,
          height: 12,
        }),
      )
      .withPanel(
        heatmapPanel({
          title: 'p99 round trip of each pair over time',
          description: `One row per ordered pair (source → target), coloured by its 99th percentile round trip. ${RTT_NOTE} ${PER_PAIR_OR_NODE_NOTE}`,
          queries: [Q.pairRttP99OrNode],
          unit: 's',
          lowerIsBetter: true,
          width: 12,
          height: 12,
        }),
      )
      .withRow(row('Slow and failing pairs'))
      .withPanel(
        tablePanel({
          title: 'Five slowest pairs',
          description: `The five ordered pairs with the lowest latest throughput. ${PER_PAIR_NOTE}`,
          queries: [Q.slowestPairs],
          unit: 'bps',
          width: 8,
        }),
      )
      .withPanel(
        tablePanel({
          title: 'Five pairs with the longest p99 round trip',
          description: `The five ordered pairs with the highest 99th percentile round trip. ${RTT_NOTE} ${PER_PAIR_NOTE}`,
          queries: [Q.slowestRttPairs],
          unit: 's',
          width: 8,
        }),
      )
      .withPanel(
        tablePanel({
          title: 'Pairs failing now',
          description: `Failed tests in a row of each ordered pair and kind of test (throughput or latency) whose latest test failed (${M.pairFailures}; exported whatever the per-pair limit, at most ${PAIR_FAILURES_MAX_SERIES} series). The error code of each is in /api/matrix.`,
          queries: [Q.failingPairs],
          width: 8,
        }),
      ),
  );
}
