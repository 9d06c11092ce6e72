/**
 * netmatrix overview: what the cluster network delivers by path and protocol, what the CNI
 * costs against the host network, the node CPU it takes, UDP loss and jitter, TCP retransmits
 * and round-trip time.
 */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { datasourceVariable, finish, labelVariable, newDashboard, row, statPanel, timeseriesPanel } from './panels.js';
import { OVERVIEW as Q, VARIABLE_QUERIES } from './queries.js';

const MEDIAN_NOTE = 'Median over all ordered pairs of the latest successful test of each pair (a gauge computed when Prometheus scrapes).';

export function overviewDashboard(): dashboard.Dashboard {
  return finish(
    newDashboard(
      'netmatrix-overview',
      'netmatrix / Overview',
      'Throughput, CNI overhead, node CPU, UDP loss and TCP behaviour of the netmatrix iperf3 matrix, by path and protocol.',
    )
      .withVariable(datasourceVariable())
      .withVariable(labelVariable('path', 'Path', VARIABLE_QUERIES.path, true))
      .withVariable(labelVariable('protocol', 'Protocol', VARIABLE_QUERIES.protocol, true))
      .withRow(row('Throughput'))
      .withPanel(
        timeseriesPanel({
          title: 'Throughput by path and protocol',
          description: `Throughput at the receiver. ${MEDIAN_NOTE}`,
          queries: [Q.throughputMedian],
          unit: 'bps',
          width: 16,
        }),
      )
      .withPanel(
        statPanel({
          title: 'Median throughput now',
          description: MEDIAN_NOTE,
          queries: [Q.throughputMedian],
          unit: 'bps',
          width: 8,
        }),
      )
      .withPanel(
        timeseriesPanel({
          title: 'Slowest and fastest pair',
          description: 'The lowest and highest throughput among the latest successful test of each ordered pair.',
          queries: [Q.throughputMinMax],
          unit: 'bps',
          width: 24,
        }),
      )
      .withRow(row('CNI overhead (relative to node-to-node)'))
      .withPanel(
        timeseriesPanel({
          title: 'Pod-to-pod and pod-to-service over node-to-node',
          description:
            'Median throughput of the pod and service paths divided by the node (host network) path, per protocol: 100% means the CNI and the service proxy cost nothing.',
          queries: [Q.podOverNode, Q.serviceOverNode],
          unit: 'percentunit',
          width: 16,
        }),
      )
      .withPanel(
        statPanel({
          title: 'Overhead ratios now',
          description: 'Pod-to-pod and pod-to-service median throughput over node-to-node, per protocol.',
          queries: [Q.podOverNode, Q.serviceOverNode],
          unit: 'percentunit',
          width: 8,
        }),
      )
      .withRow(row('Node CPU during tests'))
      .withPanel(
        timeseriesPanel({
          title: 'CPU busy, client and server',
          description: `Node CPU busy during a test (share of all cores, from /proc/stat, softirq included), on the client and the server node. ${MEDIAN_NOTE}`,
          queries: [Q.cpuBusy],
          unit: 'percentunit',
          width: 12,
        }),
      )
      .withPanel(
        timeseriesPanel({
          title: 'CPU in softirq',
          description: `Node CPU in softirq during a test (share of all cores): where packet processing shows. ${MEDIAN_NOTE}`,
          queries: [Q.cpuSoftirq],
          unit: 'percentunit',
          width: 12,
        }),
      )
      .withPanel(
        timeseriesPanel({
          title: 'CPU-seconds per GB moved',
          description: `Busy CPU-seconds of the node per 10^9 bytes moved: the cost of the bandwidth. ${MEDIAN_NOTE}`,
          queries: [Q.cpuPerGigabyte],
          width: 12,
        }),
      )
      .withPanel(
        timeseriesPanel({
          title: 'Busiest core',
          description: `Busy share of the busiest single core during a test: a flow bound to one core shows here first. ${MEDIAN_NOTE}`,
          queries: [Q.cpuMaxCore],
          unit: 'percentunit',
          width: 12,
        }),
      )
      .withRow(row('UDP'))
      .withPanel(
        timeseriesPanel({
          title: 'UDP loss',
          description: `Datagrams lost at the sending rate of the sweep (NETMATRIX_UDP_BITRATE_BITS_PER_SECOND). ${MEDIAN_NOTE}`,
          queries: [Q.udpLoss],
          unit: 'percentunit',
          width: 12,
        }),
      )
      .withPanel(
        timeseriesPanel({
          title: 'UDP jitter',
          description: `Jitter reported by iperf3. ${MEDIAN_NOTE}`,
          queries: [Q.udpJitter],
          unit: 's',
          width: 12,
        }),
      )
      .withRow(row('TCP'))
      .withPanel(
        timeseriesPanel({
          title: 'Retransmits per test',
          description: `TCP retransmits of one test as reported by the iperf3 sender. ${MEDIAN_NOTE}`,
          queries: [Q.tcpRetransmitsPerTest],
          width: 8,
        }),
      )
      .withPanel(
        timeseriesPanel({
          title: 'Retransmits per second',
          description: 'TCP retransmits summed over every test, per second of wall-clock time.',
          queries: [Q.tcpRetransmitsRate],
          width: 8,
        }),
      )
      .withPanel(
        timeseriesPanel({
          title: 'Round-trip time',
          description: `Mean TCP round-trip time seen by the iperf3 sender. ${MEDIAN_NOTE}`,
          queries: [Q.tcpRtt],
          unit: 's',
          width: 8,
        }),
      ),
  );
}
