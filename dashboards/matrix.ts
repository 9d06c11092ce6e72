/**
 * netmatrix matrix: every ordered pair of nodes of one path and protocol, as a source x target
 * matrix of the latest throughput, over time, and the pairs that fail.
 */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { datasourceVariable, finish, heatmapPanel, labelVariable, matrixPanel, newDashboard, row, tablePanel } from './panels.js';
import { MATRIX as Q, VARIABLE_QUERIES } from './queries.js';

const PER_PAIR_NOTE =
  'Per-pair series grow as N²: the aggregator exports them only up to NETMATRIX_PER_PAIR_MAX_NODES nodes (default 10; ' +
  'NETMATRIX_PER_PAIR_METRICS=always or never overrides). Above that this panel is empty, and the full matrix is at the ' +
  "aggregator's /api/matrix.";

export function matrixDashboard(): dashboard.Dashboard {
  return finish(
    newDashboard(
      'netmatrix-matrix',
      'netmatrix / Matrix',
      'Throughput of every ordered pair of nodes (source x target) for one path and protocol, and the pairs that fail.',
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
      .withRow(row('Slow and failing pairs'))
      .withPanel(
        tablePanel({
          title: 'Five slowest pairs',
          description: `The five ordered pairs with the lowest latest throughput. ${PER_PAIR_NOTE}`,
          queries: [Q.slowestPairs],
          unit: 'bps',
          width: 12,
        }),
      )
      .withPanel(
        tablePanel({
          title: 'Pairs failing now',
          description:
            'Failed tests in a row of each ordered pair whose latest test failed (netmatrix_pair_consecutive_failures; exported whatever the per-pair limit, at most 100 series). The error code of each is in /api/matrix.',
          queries: [Q.failingPairs],
          width: 12,
        }),
      ),
  );
}
