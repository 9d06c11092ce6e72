/**
 * `netmatrix` command: finds the command in the table (cli/commands.ts) and runs it; prints
 * expected problems in one line and exits 2. No logic lives here.
 */
import { ApiError } from '../client/api-client.js';
import { LabFlagsError } from '../lab/flags.js';
import { LabUnsupportedError } from '../lab/lab.js';
import { ResultsFileError } from '../shared/results-file.js';
import { SettingsError } from '../shared/settings.js';
import { dispatch, UsageError } from './command.js';
import { COMMANDS } from './commands.js';

async function main(argv: string[]): Promise<void> {
  const d = dispatch(COMMANDS, argv);
  if (d.kind === 'help') return void console.log(d.text);
  await d.command.run(d.args);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  // Expected problems get one line; anything else is a bug and keeps its stack.
  const expected =
    e instanceof SettingsError ||
    e instanceof UsageError ||
    e instanceof ApiError ||
    e instanceof LabFlagsError ||
    e instanceof ResultsFileError ||
    e instanceof LabUnsupportedError;
  console.error(expected ? `netmatrix: ${e.message}` : e);
  process.exit(2);
});
