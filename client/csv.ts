/**
 * One row per test, for spreadsheets. Pure. Columns are only ever appended, so a consumer
 * that reads them by position keeps working; a cell that does not apply to a test's kind
 * (throughput figures of a latency test, round trips of a throughput test) is empty.
 */
import { receiverUdp, type TestResult } from '../shared/result.js';
import { droppedRatio } from '../shared/results-file.js';

const COLUMNS = [
  'label',
  'run_id',
  'test_id',
  'path',
  'protocol',
  'source',
  'target',
  'target_address',
  'started_at',
  'ok',
  'error',
  'throughput_bits_per_second',
  'client_cpu_busy_percent',
  'server_cpu_busy_percent',
  'client_softirq_percent',
  'server_softirq_percent',
  'client_cpu_seconds_per_gigabyte',
  'server_cpu_seconds_per_gigabyte',
  'tcp_retransmits',
  'tcp_rtt_mean_seconds',
  'udp_jitter_seconds',
  'udp_loss_ratio',
  'duration_seconds',
  'streams',
  'bitrate_bits_per_second',
  // Added with latency tests (sockperf); times are full round trips.
  'kind',
  'rtt_p50_us',
  'rtt_p99_us',
  'rtt_p999_us',
  'dropped_ratio',
  'connect_p50_us',
  'message_size_bytes',
  'messages_per_second',
  // Added with omitted seconds (iperf3 -O): a throughput test ran this long before duration_seconds.
  'omit_seconds',
] as const;

function cell(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function resultsCsv(results: readonly TestResult[]): string {
  const rows = results.map((r) =>
    [
      r.label,
      r.runId,
      r.id,
      r.path,
      r.protocol,
      r.source.node,
      r.target.node,
      r.target.address,
      r.startedAt,
      r.ok,
      r.error ? `${r.error.code}: ${r.error.message}` : null,
      r.throughputBitsPerSecond,
      r.source.cpu?.test.busyPercent,
      r.target.cpu?.test.busyPercent,
      r.source.cpu?.test.softirqPercent,
      r.target.cpu?.test.softirqPercent,
      r.source.cpuSecondsPerGigabyte,
      r.target.cpuSecondsPerGigabyte,
      r.iperf?.tcp?.retransmits,
      r.iperf?.tcp?.rttMeanSeconds,
      receiverUdp(r)?.jitterSeconds,
      receiverUdp(r)?.lossRatio,
      r.spec.durationSeconds,
      'streams' in r.spec ? r.spec.streams : null,
      'bitrateBitsPerSecond' in r.spec ? r.spec.bitrateBitsPerSecond : null,
      r.kind,
      r.latency?.rttMicroseconds.p50,
      r.latency?.rttMicroseconds.p99,
      r.latency?.rttMicroseconds.p999,
      droppedRatio(r),
      r.latency?.connect?.p50Microseconds,
      'messageSizeBytes' in r.spec ? r.spec.messageSizeBytes : null,
      'messagesPerSecond' in r.spec ? r.spec.messagesPerSecond : null,
      'bitrateBitsPerSecond' in r.spec ? (r.spec.omitSeconds ?? 0) : null,
    ]
      .map(cell)
      .join(','),
  );
  return [COLUMNS.join(','), ...rows].join('\n') + '\n';
}
