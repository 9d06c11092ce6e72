/**
 * netmatrix overview: what the cluster network delivers by path and protocol, what the CNI
 * costs against the host network, the node CPU it takes, UDP loss and jitter, TCP retransmits
 * and round-trip time, and the round trips of the latency tests (sockperf).
 */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import {
  datasourceVariable,
  distributionPanel,
  finish,
  labelVariable,
  newDashboard,
  row,
  statPanel,
  tablePanel,
  timeseriesPanel,
} from './panels.js';
import { OVERVIEW as Q, VARIABLE_QUERIES } from './queries.js';

const MEDIAN_NOTE = 'Median over all ordered pairs of the latest successful test of each pair (a gauge computed when Prometheus scrapes).';
const RTT_NOTE =
  'FULL round trips (request sent to reply received, not one-way latency) measured by sockperf ping-pong between agents, ' +
  '64-byte messages at 1000/s by default (NETMATRIX_LATENCY_*).';
const RTT_MEDIAN_NOTE = `${RTT_NOTE} Each test gives percentiles of its round trips; this is the median over all ordered pairs of the latest successful latency test of each pair.`;

export function overviewDashboard(): dashboard.Dashboard {
  return finish(
    newDashboard(
      'netmatrix-overview',
      'netmatrix / Overview',
      'Throughput, CNI overhead, node CPU, UDP loss and TCP behaviour of the netmatrix iperf3 matrix, and round trips of its sockperf latency tests, by path and protocol.',
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
      .withRow(row('Latency (full round trip)'))
      .withPanel(
        timeseriesPanel({
          title: 'Median round trip (p50) by path and protocol',
          description: `The typical round trip: each test's median. ${RTT_MEDIAN_NOTE}`,
          queries: [Q.rttP50],
          unit: 's',
          width: 16,
        }),
      )
      .withPanel(
        statPanel({
          title: 'Median round trip now',
          description: RTT_MEDIAN_NOTE,
          queries: [Q.rttP50],
          unit: 's',
          width: 8,
        }),
      )
      .withPanel(
        timeseriesPanel({
          title: 'Tail round trip (p99 and p99.9) by path and protocol',
          description: `The slow round trips: each test's 99th and 99.9th percentile. ${RTT_MEDIAN_NOTE}`,
          queries: [Q.rttP99, Q.rttP999],
          unit: 's',
          width: 16,
        }),
      )
      .withPanel(
        statPanel({
          title: 'p99 round trip now',
          description: RTT_MEDIAN_NOTE,
          queries: [Q.rttP99],
          unit: 's',
          width: 8,
        }),
      )
      .withPanel(
        distributionPanel({
          title: 'Distribution of test medians (p50) over time',
          description: `How many latency tests had their median round trip in each bucket, per interval: every test of the selected paths and protocols (histogram netmatrix_rtt_p50_seconds). ${RTT_NOTE}`,
          queries: [Q.rttP50Distribution],
          unit: 's',
          width: 12,
        }),
      )
      .withPanel(
        distributionPanel({
          title: 'Distribution of test p99s over time',
          description: `How many latency tests had their 99th percentile round trip in each bucket, per interval (histogram netmatrix_rtt_p99_seconds). ${RTT_NOTE}`,
          queries: [Q.rttP99Distribution],
          unit: 's',
          width: 12,
        }),
      )
      .withPanel(
        timeseriesPanel({
          title: 'Best and worst pair, p99',
          description: `The lowest and highest 99th percentile round trip among the latest successful latency test of each ordered pair. ${RTT_NOTE}`,
          queries: [Q.rttP99MinMax],
          unit: 's',
          width: 8,
        }),
      )
      .withPanel(
        timeseriesPanel({
          title: 'TCP connection setup',
          description:
            'SYN to established, timed by the client agent with a few connections before each TCP latency test: the median of each test, then the median and the largest over the pairs of a path.',
          queries: [Q.connect],
          unit: 's',
          width: 8,
        }),
      )
      .withPanel(
        tablePanel({
          title: 'Nodes losing the most latency requests (UDP)',
          description:
            'UDP latency requests that got no reply, share of those sent: per node the median over its pairs of each path, the worst path shown. Any value above 0 at 1000 small messages per second points at a lossy link or node.',
          queries: [Q.latencyDroppedWorst],
          unit: 'percentunit',
          width: 8,
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
          title: 'Round-trip time under load',
          description: `Mean TCP round-trip time seen by the iperf3 sender during a throughput test, so with the link full (the latency row above has round trips on an idle link). ${MEDIAN_NOTE}`,
          queries: [Q.tcpRtt],
          unit: 's',
          width: 8,
        }),
      ),
  );
}
