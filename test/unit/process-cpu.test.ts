/**
 * bench:overhead charges the agents for their own CPU from /proc/<pid>/stat: utime + stime
 * only (fields 14 and 15), counted from the last ')' because a process name may hold both.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseProcessTicks } from '../bench/process-cpu.js';

/** A stat line as the kernel prints it, with utime 1234, stime 56, cutime 7000, cstime 800. */
const line = (comm: string) =>
  `4242 (${comm}) S 1 4242 4242 0 -1 4194560 2000 0 0 0 1234 56 7000 800 20 0 11 0 3333 1000000 5000 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0`;

describe('parseProcessTicks', () => {
  it('adds utime and stime and leaves out the reaped children (iperf3)', () => {
    expect(parseProcessTicks(line('node'))).toBe(1234 + 56);
  });

  it('counts fields from the last parenthesis when the name holds spaces and parentheses', () => {
    expect(parseProcessTicks(line('MainThread) (x y'))).toBe(1290);
  });

  it('reads this process', () => {
    expect(parseProcessTicks(readFileSync('/proc/self/stat', 'utf8'))).toBeGreaterThanOrEqual(0);
  });

  it('throws on text that is not a stat line', () => {
    expect(() => parseProcessTicks('')).toThrow(/not a \/proc/);
    expect(() => parseProcessTicks('4242 (node) S 1 2')).toThrow(/not a \/proc/);
  });
});
