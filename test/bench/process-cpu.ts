/**
 * A process's own CPU time from /proc/<pid>/stat, for the benchmarks that charge netmatrix for the
 * CPU it burns itself. utime and stime (fields 14 and 15) count only the process's own threads:
 * children's time goes to cutime/cstime once reaped, so an agent's iperf3 is not in them.
 */
import { readFileSync } from 'node:fs';
import { USER_HZ } from '../../shared/cpu.js';

/**
 * utime + stime, in clock ticks, from the text of /proc/<pid>/stat. Field 2 (comm) is the
 * executable name in parentheses and may itself hold spaces and ')', so the fields are counted
 * from the last ')'. Throws on text that is not a stat line: a wrong figure would be worse.
 */
export function parseProcessTicks(stat: string): number {
  const close = stat.lastIndexOf(')');
  // After ") " come field 3 (state) onwards, so field n is at index n - 3.
  const fields = close < 0 ? [] : stat.slice(close + 2).split(' ');
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  if (!Number.isInteger(utime) || !Number.isInteger(stime) || utime < 0 || stime < 0)
    throw new Error(`not a /proc/<pid>/stat line: ${JSON.stringify(stat.slice(0, 80))}`);
  return utime + stime;
}

/** CPU seconds (user + system) that `pid` itself has used so far, to 1/USER_HZ (10 ms). */
export function processCpuSeconds(pid: number): number {
  return parseProcessTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')) / USER_HZ;
}
