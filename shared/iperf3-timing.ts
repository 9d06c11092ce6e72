/**
 * When iperf3 measured, on the wall clock: the interval a node's CPU window must cover to be
 * set against the bytes iperf3 counted. Pure: the agent's runner gives it the report and the
 * time it saw iperf3 exit.
 *
 * iperf3 3.12's report has one wall-clock time, start.timestamp.timesecs: when the control
 * connection was made, truncated to whole seconds. Its intervals are in seconds since the test
 * started (streams connected), and with `--omit` the omitted intervals come first and the clock
 * restarts when they end (the first measured interval starts at ~0 again). So the report alone
 * places the measured interval only to within a second, and a server's second is not its
 * client's. The process's exit follows the last interval by the results exchange (milliseconds),
 * so counting back from it places the interval to within milliseconds on each side's own clock;
 * the timestamp bounds that estimate when the exit came late (a stuck exchange, a kill).
 */
import { z } from 'zod';
import { Iperf3TimingSchema, type Iperf3Timing } from './iperf3-result.js';

/**
 * Longest time allowed from the control connection to the test's start (parameter exchange and
 * one connect per stream): milliseconds on a cluster network; a lost SYN adds a second, so one
 * second of slack keeps such a test's estimate within a second of the truth.
 */
export const SETUP_ALLOWANCE_MS = 1000;

/** A wall-clock interval, ms since the epoch. */
export interface WallClockWindow {
  startMs: number;
  endMs: number;
}

// Only what the timing needs; a report whose intervals do not fit simply has no timing (the
// result itself is parsed elsewhere and must not fail for this).
const TimingReportSchema = z.object({
  start: z.object({ timestamp: z.object({ timesecs: z.number().int().min(0) }) }),
  intervals: z
    .array(z.object({ sum: z.object({ start: z.number().min(0), end: z.number().min(0), omitted: z.boolean().optional() }) }))
    .min(1),
});

/**
 * The measured interval of one `-J` report (a parsed JSON document, client's or server's), in
 * seconds since its test started; undefined when it has no timestamp or no measured interval.
 */
export function iperf3Timing(report: unknown): Iperf3Timing | undefined {
  const parsed = TimingReportSchema.safeParse(report);
  if (!parsed.success) return undefined;
  const sums = parsed.data.intervals.map((i) => i.sum);
  const omitted = sums.filter((s) => s.omitted === true);
  const measured = sums.filter((s) => s.omitted !== true);
  const first = measured[0];
  if (!first) return undefined;
  const omitEnd = omitted.reduce((m, s) => Math.max(m, s.end), 0);
  // 3.12 restarts the interval clock when the omitted seconds end; a version that does not
  // would start its first measured interval at or after omitEnd, and needs no offset.
  const offset = first.start < omitEnd ? omitEnd : 0;
  const end = measured.reduce((m, s) => Math.max(m, s.end), 0);
  if (!(end > first.start)) return undefined;
  // Absurd values (an overflow to Infinity) give no timing rather than a result out of range.
  const timing = Iperf3TimingSchema.safeParse({
    connectedAtSeconds: parsed.data.start.timestamp.timesecs,
    measuredStartSeconds: offset + first.start,
    measuredEndSeconds: offset + end,
  });
  return timing.success ? timing.data : undefined;
}

/**
 * Where `timing` lies on the wall clock of the machine that ran iperf3, given when that
 * machine saw the process exit (ms since the epoch). The test started measuredEndSeconds
 * before the exit at the latest; it started no earlier than the connection's whole second and
 * no later than the end of that second plus SETUP_ALLOWANCE_MS, and the estimate is held
 * within those bounds. Rounded to whole ms.
 */
export function measuredWindowMs(timing: Iperf3Timing, exitedAtMs: number): WallClockWindow {
  const earliest = timing.connectedAtSeconds * 1000;
  const latest = earliest + 1000 + SETUP_ALLOWANCE_MS;
  const testStartMs = Math.min(latest, Math.max(earliest, exitedAtMs - timing.measuredEndSeconds * 1000));
  return {
    startMs: Math.round(testStartMs + timing.measuredStartSeconds * 1000),
    endMs: Math.round(testStartMs + timing.measuredEndSeconds * 1000),
  };
}
