/**
 * netmatrix scheduler health: are all pairs measured, how often sweeps complete, how stale the
 * results are, what fails and why, and how long tests take.
 */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { datasourceVariable, finish, labelVariable, newDashboard, row, statPanel, tablePanel, timeseriesPanel } from './panels.js';
import { SCHEDULER as Q, VARIABLE_QUERIES } from './queries.js';

export function schedulerDashboard(): dashboard.Dashboard {
  return finish(
    newDashboard(
      'netmatrix-scheduler',
      'netmatrix / Scheduler health',
      'Sweep coverage, staleness, failures by reason and test durations of the netmatrix aggregator.',
    )
      .withVariable(datasourceVariable())
      .withVariable(labelVariable('path', 'Path', VARIABLE_QUERIES.path, true))
      .withVariable(labelVariable('protocol', 'Protocol', VARIABLE_QUERIES.protocol, true))
      .withRow(row('Coverage'))
      .withPanel(
        statPanel({
          title: 'Agents connected',
          description: 'Agents connected to the aggregator now, by network mode: one of each per node when all is well.',
          queries: [Q.agents],
          width: 6,
        }),
      )
      .withPanel(
        timeseriesPanel({
          title: 'Pairs measured',
          description: 'Ordered pairs with a successful result in the current matrix, by kind of test (throughput or latency).',
          queries: [Q.pairsMeasured],
          width: 9,
        }),
      )
      .withPanel(
        timeseriesPanel({
          title: 'Share of ordered pairs measured',
          description: 'Pairs measured over N(N-1), with N the larger number of agents of one mode, by kind of test.',
          queries: [Q.pairsShare],
          unit: 'percentunit',
          width: 9,
        }),
      )
      .withPanel(
        timeseriesPanel({
          title: 'Sweeps completed per hour',
          description: 'Background sweeps that covered every ordered pair, by kind of test, in the last hour at each point.',
          queries: [Q.sweepsPerHour],
          width: 16,
        }),
      )
      .withPanel(
        statPanel({
          title: 'Sweeps completed in the time range',
          description: 'Background sweeps that covered every ordered pair, over the dashboard time range.',
          queries: [Q.sweepsInRange],
          width: 8,
        }),
      )
      .withRow(row('Staleness'))
      .withPanel(
        tablePanel({
          title: "Time since each node's last success",
          description: 'Seconds since a test involving each node last succeeded, stalest first. A node with no success yet has no row.',
          queries: [Q.staleness],
          unit: 's',
          width: 10,
        }),
      )
      .withPanel(
        timeseriesPanel({
          title: 'Stalest node per path and protocol',
          description: 'The largest time since last success among the nodes, per path and protocol.',
          queries: [Q.oldestPerPath],
          unit: 's',
          width: 10,
        }),
      )
      .withPanel(
        statPanel({
          title: 'Nodes resting',
          description:
            'Nodes the background sweep leaves alone for now because their CPU or NIC was busy with real work just before a test (NETMATRIX_BUSY_NODE_*); the aggregator logs each as "node busy, resting". Their pairs go stale meanwhile.',
          queries: [Q.resting],
          width: 4,
        }),
      )
      .withRow(row('Failures'))
      .withPanel(
        timeseriesPanel({
          title: 'Failures per minute by reason',
          description: 'Failed tests per minute by reason (the error codes of the README); a reason that never happened has no series.',
          queries: [Q.failuresByReason],
          width: 12,
        }),
      )
      .withPanel(
        timeseriesPanel({
          title: 'Failure ratio',
          description: 'Failed tests over all tests finished, per kind of test, path and protocol.',
          queries: [Q.failureRatio],
          unit: 'percentunit',
          width: 12,
        }),
      )
      .withPanel(
        tablePanel({
          title: 'Pairs failing now',
          description:
            'Failed tests in a row of each ordered pair and kind of test whose latest test failed (at most 100 series, the longest runs).',
          queries: [Q.failingPairs],
          width: 24,
        }),
      )
      .withRow(row('Test durations'))
      .withPanel(
        timeseriesPanel({
          title: 'Test duration quantiles',
          description:
            'Wall-clock time of a test from the serve command to the joined result, by kind: p50, p90 and p99 from the histogram. A latency test takes its duration plus about 2.5 s of sockperf warm-up and tail.',
          queries: [Q.durationP50, Q.durationP90, Q.durationP99],
          unit: 's',
          width: 16,
        }),
      )
      .withPanel(
        timeseriesPanel({
          title: 'Tests per minute',
          description: 'Tests finished per minute, by outcome and kind.',
          queries: [Q.testsPerMinute],
          width: 8,
        }),
      ),
  );
}
