/**
 * Reads results files for compare. Every file is read and checked before anything is
 * compared, and every unusable one yields exactly one line naming it and the problem, so a
 * user fixes them all in one go and never sees a table built from a partial set.
 */
import { readFile } from 'node:fs/promises';
import { parseResultsFile, ResultsFileError, type ResultsFile } from '../../shared/results-file.js';

/** One results file as given on the command line. */
export interface LoadedRun {
  /** The path as the user typed it: what messages and run headers name. */
  name: string;
  file: ResultsFile;
}

export type LoadOutcome = { ok: true; runs: LoadedRun[] } | { ok: false; errors: string[] };

/** Reads a file as UTF-8 text; a parameter so tests can supply contents without a disk. */
export type ReadText = (path: string) => Promise<string>;

const readUtf8: ReadText = (path) => readFile(path, 'utf8');

/** Load every file; `errors` has one line per unusable file, in the order given. */
export async function loadResultsFiles(paths: readonly string[], read: ReadText = readUtf8): Promise<LoadOutcome> {
  const runs: LoadedRun[] = [];
  const errors: string[] = [];
  for (const name of paths) {
    const outcome = await loadOne(name, read);
    if (typeof outcome === 'string') errors.push(outcome);
    else runs.push(outcome);
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, runs };
}

async function loadOne(name: string, read: ReadText): Promise<LoadedRun | string> {
  let text: string;
  try {
    text = await read(name);
  } catch (e) {
    return `${name}: ${readProblem(e)}`;
  }
  if (text.trim() === '') return `${name}: empty file (not a netmatrix results file)`;
  try {
    return { name, file: parseResultsFile(name, text) };
  } catch (e) {
    // parseResultsFile's messages already name the file; anything else is a bug and propagates.
    if (e instanceof ResultsFileError) return e.message;
    throw e;
  }
}

function readProblem(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EISDIR':
      return 'is a directory, not a results file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    default:
      return `cannot read (${typeof code === 'string' ? code : e instanceof Error ? e.message : String(e)})`;
  }
}
