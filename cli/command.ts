/**
 * Commands as data: what a command is (name, one-line summary, usage, flag tables, handler),
 * and the two things made from a list of them, the help texts and the dispatch. Pure: the
 * caller passes argv and gets back what to print or which handler to call.
 */
import { settingsHelp, type SettingsTable } from '../shared/settings.js';

/** A flag table under its heading in `--help`. */
export interface FlagSection {
  title: string;
  table: SettingsTable;
}

export interface Command {
  /** The words after `netmatrix`, e.g. `lab up`. */
  name: string;
  /** What follows the name in a usage line, e.g. `--label NAME --out FILE [flags]`. */
  args: string;
  /** One line for `netmatrix --help`. */
  summary: string;
  /** More lines for `netmatrix <command> --help`, after the summary. */
  details?: string;
  flags: readonly FlagSection[];
  /** The command answers --help itself (compare has its own usage text and exit codes). */
  ownHelp?: boolean;
  /** Runs the command with the words after its name. */
  run: (args: string[]) => Promise<void>;
}

/** A command line that names no command, or a group without its subcommand: exit 2 with the usage. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const SUMMARY_COLUMN = 30;

/** `netmatrix --help`: every command with its usage and summary. */
export function commandsHelp(commands: readonly Command[]): string {
  const lines = commands.map((c) => {
    const usage = `${c.name} ${c.args}`.trimEnd();
    return usage.length < SUMMARY_COLUMN - 2
      ? `  ${usage.padEnd(SUMMARY_COLUMN - 2)}${c.summary}`
      : `  ${usage}\n  ${' '.repeat(SUMMARY_COLUMN - 2)}${c.summary}`;
  });
  return [
    'usage: netmatrix <command> [flags]',
    '',
    ...lines,
    '',
    'Each flag with a variable can also be set by it (the flag wins); --help after a command lists them.',
  ].join('\n');
}

/** `netmatrix <command> --help`: usage, summary, details, then each flag table under its heading. */
export function commandHelp(c: Command): string {
  const parts = [`usage: netmatrix ${c.name} ${c.args}`.trimEnd(), '', c.summary];
  if (c.details) parts.push(c.details);
  for (const s of c.flags) parts.push('', `${s.title}:`, settingsHelp(s.table));
  return parts.join('\n');
}

/** What argv asks for: a help text to print, or a command to run with its remaining words. */
export type Dispatch = { kind: 'help'; text: string } | { kind: 'run'; command: Command; args: string[] };

/**
 * Find the command named by the first words of argv (the longest match, so `lab up` wins over a
 * `lab`). `--help` after a command asks for its help, unless it answers that itself. Throws a
 * UsageError for an unknown command or a group without a subcommand.
 */
export function dispatch(commands: readonly Command[], argv: readonly string[]): Dispatch {
  const [first] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    return { kind: 'help', text: commandsHelp(commands) };
  }
  const named = (c: Command) => c.name.split(' ').every((w, i) => argv[i] === w);
  const command = commands.filter(named).sort((a, b) => b.name.length - a.name.length)[0];
  if (command === undefined) {
    const group = commands.filter((c) => c.name.startsWith(`${first} `)).map((c) => c.name.slice(first.length + 1));
    if (group.length > 0) throw new UsageError(`usage: netmatrix ${first} ${group.join('|')}`);
    throw new UsageError(`unknown command "${first}"\n${commandsHelp(commands)}`);
  }
  const args = argv.slice(command.name.split(' ').length);
  if (!command.ownHelp && args.includes('--help')) return { kind: 'help', text: commandHelp(command) };
  return { kind: 'run', command, args };
}
