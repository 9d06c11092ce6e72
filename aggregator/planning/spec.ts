/**
 * The one place a test's spec is built: the background sweep's from the scheduler's settings,
 * an on-demand run's from its request (the settings filling what it leaves out). The kind
 * travels next to its spec, so what a test is and how it runs cannot disagree.
 */
import { DEFAULT_RUN_OMIT_SECONDS, type RunRequest } from '../../shared/api.js';
import type { LatencySpec, Protocol, TestKind, TestSpec, ThroughputSpec } from '../../shared/protocol.js';
import type { RunSpec } from '../../shared/results-file.js';
import type { SchedulerSettings } from './settings.js';

/** A test's kind and its spec (whose own `kind` is the same), for the planner's bookkeeping by kind. */
export type KindAndSpec = { kind: TestKind; spec: TestSpec };

/**
 * The spec of a `kind` test over `protocol`: the background sweep's, or `run`'s. Latency tests
 * always take the settings' spec (a run request has no latency fields). The sweep omits no
 * seconds (see DEFAULT_RUN_OMIT_SECONDS).
 */
export function specFor(kind: TestKind, protocol: Protocol, s: SchedulerSettings, run?: RunSpec): KindAndSpec {
  if (kind === 'latency') {
    const spec: LatencySpec = {
      kind: 'latency',
      protocol,
      durationSeconds: s.latencyDurationSeconds,
      messageSizeBytes: s.latencyMessageSizeBytes,
      messagesPerSecond: s.latencyMessagesPerSecond,
      connectSamples: protocol === 'tcp' ? s.latencyConnectSamples : 0,
    };
    return { kind, spec };
  }
  const omitSeconds = run?.omitSeconds ?? 0;
  const spec: ThroughputSpec = {
    kind: 'throughput',
    protocol,
    durationSeconds: run?.durationSeconds ?? s.durationSeconds,
    bitrateBitsPerSecond:
      protocol === 'udp' ? (run?.udpBitrateBitsPerSecond ?? s.udpBitrate) : (run?.tcpBitrateBitsPerSecond ?? s.tcpBitrate),
    streams: run?.streams ?? s.streams,
    reverse: false,
    // Left out at 0: agents from before omitSeconds drop their connection on the field.
    ...(omitSeconds > 0 ? { omitSeconds } : {}),
  };
  return { kind, spec };
}

/** An on-demand run's spec: what the request asks, the background sweep's settings for the rest. */
export function runSpecOf(req: RunRequest, s: SchedulerSettings): RunSpec {
  return {
    kinds: req.kinds ?? ['throughput'],
    paths: req.paths ?? [...s.paths],
    protocols: req.protocols ?? [...s.protocols],
    durationSeconds: req.durationSeconds ?? s.durationSeconds,
    repeat: req.repeat ?? 1,
    streams: req.streams ?? s.streams,
    tcpBitrateBitsPerSecond: req.tcpBitrateBitsPerSecond ?? s.tcpBitrate,
    udpBitrateBitsPerSecond: req.udpBitrateBitsPerSecond ?? s.udpBitrate,
    omitSeconds: req.omitSeconds ?? DEFAULT_RUN_OMIT_SECONDS,
  };
}
