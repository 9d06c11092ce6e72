/** The process table, for tests that check what a tool left running. */
import { readFileSync } from 'node:fs';
import { exec } from '../../sys/exec.js';

/** Processes named exactly `name` (pgrep -x) whose command line has `port` as an argument. */
export async function processesOn(name: string, port: number): Promise<number[]> {
  const r = await exec(['pgrep', '-x', name]);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(String(port));
      } catch {
        return false; // it exited in between
      }
    });
}
