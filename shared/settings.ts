/**
 * Configuration from environment variables and command-line flags, decoded strictly,
 * defaulted, then validated with every problem reported at once. Pure: the caller passes
 * `process.env` and `process.argv`, so nothing else in netmatrix reads them.
 */
import { z } from 'zod';

/** One setting: where it comes from, how it is checked, what it is for. */
export interface Setting<T> {
  /** Environment variable, e.g. NETMATRIX_TEST_DURATION_SECONDS. */
  env: string;
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

/** Parse argv (after the subcommand) into flag -> value. Unknown flags are problems. */
function parseFlags(table: SettingsTable, argv: readonly string[], problems: string[]): Map<string, string> {
  const byFlag = new Map(Object.values(table).map((s) => [s.flag, s]));
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(arg);
    if (!m) {
      problems.push(`unexpected argument "${arg}"`);
      continue;
    }
    const flag = m[1] as string;
    const s = byFlag.get(flag);
    if (!s) {
      problems.push(`unknown flag --${flag}`);
      continue;
    }
    let value = m[2];
    if (value === undefined) {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('--')) {
        value = next;
        i++;
      } else if (s.bare) {
        value = 'true';
      } else {
        // Reading a bare --token as "true" would start with the token "true".
        problems.push(`--${flag} needs a value`);
        continue;
      }
    }
    out.set(flag, value);
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
): SettingsOf<T> {
  const problems: string[] = [];
  const flags = parseFlags(table, argv, problems);
  const values: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(table)) {
    const fromFlag = flags.get(s.flag);
    const fromEnv = env[s.env];
    const raw = fromFlag ?? (fromEnv === '' ? undefined : fromEnv);
    const parsed = s.schema.safeParse(raw);
    if (parsed.success) values[key] = parsed.data;
    else {
      const shown = raw === undefined ? 'not set' : s.secret ? '(redacted)' : JSON.stringify(raw);
      const where = fromFlag !== undefined ? `--${s.flag}` : s.env;
      problems.push(`${where} ${shown}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
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

/** Help text: one line per setting, for `--help`. */
export function settingsHelp(table: SettingsTable): string {
  return Object.values(table)
    .map((s) => `  --${s.flag.padEnd(34)} ${s.env.padEnd(40)} ${s.help}`)
    .join('\n');
}
