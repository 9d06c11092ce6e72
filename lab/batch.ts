/**
 * Runs the lab's batch files (`ip -batch`, `bridge -batch`, `iptables-restore`, `nft -f`): one
 * process per namespace and tool rather than one per address, route and rule, so a 50-node lab
 * takes seconds. A failure names the line of the batch that failed.
 */
import { writeFile } from 'node:fs/promises';
import { execChecked, ExecError } from '../sys/exec.js';

/** The deadline of every command the lab runs to build, check or read itself. */
export const LAB_COMMAND_TIMEOUT_MS = 30_000;

/** Write `script` to the file `argv` ends with, run `argv`; name the failing line on error. */
export async function runScript(argv: string[], script: string): Promise<void> {
  const file = argv[argv.length - 1] ?? '';
  await writeFile(file, script);
  try {
    await execChecked(argv, { timeoutMs: LAB_COMMAND_TIMEOUT_MS });
  } catch (e) {
    if (!(e instanceof ExecError)) throw e;
    // ip and bridge -batch say "Command failed FILE:N" after a kernel error, iptables-restore
    // "line N failed", nft "FILE:N:COLUMNS: Error"; an argument ip cannot parse ends it at
    // once, naming only the quoted argument.
    const lines = script.split('\n');
    const n = /Command failed \S+:(\d+)|line (\d+) failed|\.nft:(\d+):[\d-]+: Error/.exec(e.stderr);
    const quoted = /"([^"]+)"/.exec(e.stderr)?.[1];
    const line = n
      ? lines[Number(n[1] ?? n[2] ?? n[3]) - 1]?.trim()
      : quoted
        ? lines.find((l) => l.split(' ').includes(quoted))
        : undefined;
    const where = line ? ` at line "${line}"` : '';
    throw new ExecError(`${e.message}${where}`, e.argv, e.exitCode, e.stderr, e.stdout);
  }
}
