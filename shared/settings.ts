/**
 * Configuration from environment variables and command-line flags, decoded strictly,
 * defaulted, then validated with every problem reported at once. Pure: the caller passes
 * `process.env` and `process.argv`, so nothing else in netmatrix reads them.
 */
import { z } from 'zod';

/** One setting: where it comes from, how it is checked, what it is for. */
export interface Setting<T> {
  /** Environment variable, e.g. NETMATRIX_TEST_DURATION_SECONDS; a flag-only setting (the lab's) has none. */
  env?: string;
  /** Flag without dashes, e.g. test-duration-seconds (given as --test-duration-seconds=V or --test-duration-seconds V). */
  flag: string;
  /** Parses the raw string; receives `undefined` when neither env nor flag is set (so it can default). */
  schema: z.ZodType<T>;
  help: string;
  /** Redacted in logs and errors. */
  secret?: boolean;
  /** A boolean switch: `--flag` alone means true. Any other flag needs a value. */
  bare?: boolean;
}

export type SettingsTable = Record<string, Setting<unknown>>;
export type SettingsOf<T extends SettingsTable> = { readonly [K in keyof T]: T[K] extends Setting<infer V> ? V : never };

/** Invalid configuration: every problem, one per line. */
export class SettingsError extends Error {
  override readonly name = 'SettingsError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}

/** Typed helpers for common setting kinds. Flags and env vars are strings; these coerce. */
export const setting = {
  string: (def?: string) => (def === undefined ? z.string().min(1) : z.string().min(1).default(def)),
  optionalString: () => z.string().min(1).optional(),
  int: (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def),
  number: (def: number, min: number, max: number) => z.coerce.number().min(min).max(max).default(def),
  bool: (def: boolean) =>
    z
      .string()
      .optional()
      .transform((v, ctx) => {
        if (v === undefined) return def;
        if (['true', '1', 'yes'].includes(v)) return true;
        if (['false', '0', 'no'].includes(v)) return false;
        ctx.addIssue({ code: 'custom', message: 'expected true or false' });
        return z.NEVER;
      }),
  list: (def: string[]) =>
    z
      .string()
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0),
      )
      .optional()
      .transform((v) => v ?? def),
};

/** The logging settings every netmatrix process has. */
export const LOG_SETTINGS = {
  logLevel: {
    env: 'NETMATRIX_LOG_LEVEL',
    flag: 'log-level',
    schema: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
    help: 'log level',
  },
  logFormat: {
    env: 'NETMATRIX_LOG_FORMAT',
    flag: 'log-format',
    schema: z.enum(['json', 'pretty']).default('json'),
    help: 'json, or pretty for a terminal',
  },
};

/**
 * How a table reads its flags where it differs from the default (the lab's flags keep the
 * wording they had before they became a table).
 */
export interface FlagRules {
  /** Names the table in "unknown flag" problems, which then list its flags: "(lab flags: --nodes, ...)". */
  name?: string;
  /** A flag given twice or with an empty value (`--nodes=`) is a problem; by default the last one wins and "" goes to the schema. */
  strict?: boolean;
  /** How a bad value reads; by default `--flag "value": reason`. */
  badValue?: (where: string, raw: string, reason: string) => string;
}

/** A word that names a flag, and the flag it names: `--nodes=3` -> `--nodes`. */
function flagName(arg: string): string | undefined {
  if (!arg.startsWith('-') || arg === '-') return undefined;
  const eq = arg.indexOf('=');
  return eq > 0 ? arg.slice(0, eq) : arg;
}

/** Whether `--flag` (no `=`) takes the next word as its value: the same rule for every table. */
function takesNext(arg: string, next: string | undefined): next is string {
  return !arg.includes('=') && next !== undefined && !next.startsWith('--');
}

/** Parse argv (after the subcommand) into flag -> value. Unknown flags are problems. */
function parseFlags(table: SettingsTable, argv: readonly string[], problems: string[], rules: FlagRules): Map<string, string> {
  const byFlag = new Map(Object.values(table).map((s) => [`--${s.flag}`, s]));
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const flag = flagName(arg);
    if (flag === undefined) {
      problems.push(`unexpected argument "${arg}"`);
      continue;
    }
    const s = byFlag.get(flag);
    if (!s) {
      problems.push(`unknown flag ${flag}${rules.name ? ` (${rules.name} flags: ${[...byFlag.keys()].join(', ')})` : ''}`);
      continue;
    }
    let value = arg === flag ? undefined : arg.slice(flag.length + 1);
    const next = argv[i + 1];
    if (value === undefined && takesNext(arg, next)) {
      value = next;
      i++;
    } else if (value === undefined && s.bare) {
      value = 'true';
    }
    // Reading a bare --token as "true" would start with the token "true".
    if (value === undefined || (rules.strict && value === '')) {
      problems.push(`${flag} needs a value`);
      continue;
    }
    if (rules.strict && out.has(s.flag)) problems.push(`${flag} is given more than once`);
    out.set(s.flag, value);
  }
  return out;
}

/**
 * Hand each table the words of argv that name its flags, with their values; every other word
 * goes to the first table, which reports it. How commands compose tables (`run --lab` takes
 * the run's flags and the lab's) without a list of either.
 */
export function splitArgs(argv: readonly string[], tables: readonly SettingsTable[]): string[][] {
  const owner = new Map<string, number>();
  tables.forEach((t, i) => Object.values(t).forEach((s) => owner.set(`--${s.flag}`, i)));
  const out = tables.map((): string[] => []);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const name = flagName(arg);
    const owned = name === undefined ? undefined : owner.get(name);
    const mine = out[owned ?? 0] as string[];
    mine.push(arg);
    if (owned !== undefined && takesNext(arg, argv[i + 1])) mine.push(argv[++i] as string);
  }
  return out;
}

/**
 * Load `table` from flags (which win) and environment. Throws SettingsError listing every
 * problem. The returned object is frozen.
 */
export function loadSettings<T extends SettingsTable>(
  table: T,
  env: Readonly<Record<string, string | undefined>>,
  argv: readonly string[] = [],
  rules: FlagRules = {},
): SettingsOf<T> {
  const problems: string[] = [];
  const flags = parseFlags(table, argv, problems, rules);
  const values: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(table)) {
    const fromFlag = flags.get(s.flag);
    const fromEnv = s.env === undefined ? undefined : env[s.env];
    const raw = fromFlag ?? (fromEnv === '' ? undefined : fromEnv);
    const parsed = s.schema.safeParse(raw);
    if (parsed.success) values[key] = parsed.data;
    else {
      const where = fromFlag !== undefined || s.env === undefined ? `--${s.flag}` : s.env;
      const reason = parsed.error.issues.map((i) => i.message).join('; ');
      if (rules.badValue && raw !== undefined && !s.secret) problems.push(rules.badValue(where, raw, reason));
      else {
        const shown = raw === undefined ? 'not set' : s.secret ? '(redacted)' : JSON.stringify(raw);
        problems.push(`${where} ${shown}: ${reason}`);
      }
    }
  }
  if (problems.length > 0) throw new SettingsError(problems);
  for (const v of Object.values(values)) if (v !== null && typeof v === 'object') Object.freeze(v);
  return Object.freeze(values) as SettingsOf<T>;
}

/** The settings with secrets replaced, for the one start-up log line. */
export function redacted<T extends SettingsTable>(table: T, values: SettingsOf<T>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, table[k]?.secret && v !== undefined ? '(redacted)' : v]));
}

/** Help text: one line per setting, for `--help`; a table of flag-only settings has no variable column. */
export function settingsHelp(table: SettingsTable): string {
  const settings = Object.values(table);
  const withEnv = settings.some((s) => s.env !== undefined);
  return settings.map((s) => `  --${s.flag.padEnd(34)} ${withEnv ? `${(s.env ?? '').padEnd(40)} ` : ''}${s.help}`).join('\n');
}
