/**
 * netmatrix node: one node's throughput in and out, its pairs, its round trips (latency tests),
 * its CPU, UDP loss and freshness.
 */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { datasourceVariable, finish, labelVariable, newDashboard, row, tablePanel, timeseriesPanel } from './panels.js';
import { NODE_DRILLDOWN as Q, VARIABLE_QUERIES } from './queries.js';

export function nodeDashboard(): dashboard.Dashboard {
  return finish(
    newDashboard(
      'netmatrix-node',
      'netmatrix / Node',
      "One node's throughput in and out, its pairs, its round trips, its CPU during tests, UDP loss and when it last succeeded.",
    )
      .withVariable(datasourceVariable())
      .withVariable(labelVariable('node', 'Node', VARIABLE_QUERIES.node, false))
      .withVariable(labelVariable('path', 'Path', VARIABLE_QUERIES.path, true))
      .withVariable(labelVariable('protocol', 'Protocol', VARIABLE_QUERIES.protocol, true))
      .withRow(row('Throughput of $node'))
      .withPanel(
        timeseriesPanel({
          title: 'Throughput in and out',
          description: "Median throughput of the node's pairs: out = the node is the client (sender), in = the node is the server.",
          queries: [Q.throughput],
          unit: 'bps',
          width: 24,
        }),
      )
      .withPanel(
        timeseriesPanel({
          title: 'Pairs from $node',
          description:
            'Throughput of each pair the node sends to. Per-pair series exist only up to NETMATRIX_PER_PAIR_MAX_NODES nodes; above that, see /api/matrix.',
          queries: [Q.pairsOut],
          unit: 'bps',
          width: 12,
        }),
      )
      .withPanel(
        timeseriesPanel({
          title: 'Pairs to $node',
          description:
            'Throughput of each pair the node receives from. Per-pair series exist only up to NETMATRIX_PER_PAIR_MAX_NODES nodes; above that, see /api/matrix.',
          queries: [Q.pairsIn],
          unit: 'bps',
          width: 12,
        }),
      )
      .withRow(row('Latency of $node (full round trip)'))
      .withPanel(
        timeseriesPanel({
          title: 'Round trip, p50 and p99',
          description:
            "FULL round trips (request sent to reply received) measured by sockperf ping-pong: each test's median (p50) and 99th percentile, then the median over every pair the node is in, as client or server.",
          queries: [Q.rtt],
          unit: 's',
          width: 16,
        }),
      )
      .withPanel(
        timeseriesPanel({
          title: 'Latency requests lost (UDP)',
          description:
            "UDP latency requests that got no reply, share of those sent: the median over the node's pairs of each path, the worst path shown. Above 0 points at a lossy link or node.",
          queries: [Q.latencyDropped],
          unit: 'percentunit',
          width: 8,
        }),
      )
      .withPanel(
        timeseriesPanel({
          title: 'p99 round trip of the pairs of $node',
          description:
            '99th percentile round trip of each pair the node is in, either end. Per-pair series exist only up to NETMATRIX_PER_PAIR_MAX_NODES nodes; above that, see /api/matrix.',
          queries: [Q.pairsRtt],
          unit: 's',
          width: 24,
        }),
      )
      .withRow(row('CPU and UDP loss'))
      .withPanel(
        timeseriesPanel({
          title: 'Node CPU busy during its tests',
          description: "Node CPU busy (share of all cores, softirq included) as client and as server, median over the node's pairs.",
          queries: [Q.cpuBusy],
          unit: 'percentunit',
          width: 12,
        }),
      )
      .withPanel(
        timeseriesPanel({
          title: 'UDP loss',
          description: "UDP datagrams lost, median over the node's pairs, sending (out) and receiving (in).",
          queries: [Q.udpLoss],
          unit: 'percentunit',
          width: 12,
        }),
      )
      .withRow(row('Freshness'))
      .withPanel(
        tablePanel({
          title: 'Last success',
          description: 'When a test involving the node last succeeded, per path and protocol.',
          queries: [Q.lastSuccess],
          unit: 'dateTimeAsIso',
          width: 12,
        }),
      )
      .withPanel(
        timeseriesPanel({
          title: 'Time since last success',
          description:
            'Seconds since a test involving the node last succeeded. It grows by the sweep period between tests; steady growth means the node is no longer measured.',
          queries: [Q.sinceLastSuccess],
          unit: 's',
          width: 12,
        }),
      )
      .withPanel(
        tablePanel({
          title: 'Failing pairs involving $node',
          description:
            'Failed tests in a row of each pair from or to the node whose latest test failed. The error codes are in /api/matrix.',
          queries: [Q.failingPairs],
          width: 24,
        }),
      ),
  );
}
