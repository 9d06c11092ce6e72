/**
 * When background tests may run: quiet hours (a daily UTC window with none) and jitter on the
 * pauses between rounds. Pure: the scheduler passes the time and the random source.
 */

/** A daily window in UTC, in minutes after midnight; it may wrap past midnight (22:00-02:00). */
export interface QuietHours {
  startMinute: number;
  endMinute: number;
}

const MINUTES_PER_DAY = 24 * 60;

/**
 * Parse "HH:MM-HH:MM" (UTC, 24-hour). Returns the window, or a message saying what is wrong.
 * A window that starts where it ends is refused: it would mean either nothing or all day.
 */
export function parseQuietHours(text: string): QuietHours | string {
  const m = /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/.exec(text.trim());
  if (!m) return `"${text}" is not HH:MM-HH:MM (UTC)`;
  const [sh, sm, eh, em] = m.slice(1).map(Number) as [number, number, number, number];
  if (sh > 23 || eh > 23 || sm > 59 || em > 59) return `"${text}" has an hour above 23 or a minute above 59`;
  const window = { startMinute: sh * 60 + sm, endMinute: eh * 60 + em };
  if (window.startMinute === window.endMinute) return `"${text}" starts where it ends`;
  return window;
}

/** Milliseconds until the quiet window ends, or 0 when `at` is outside it. */
export function quietMsLeft(q: QuietHours | null | undefined, at: Date): number {
  if (!q) return 0;
  const msOfDay = at.getTime() - Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate());
  const minute = msOfDay / 60_000;
  const length = (q.endMinute - q.startMinute + MINUTES_PER_DAY) % MINUTES_PER_DAY;
  const into = (minute - q.startMinute + MINUTES_PER_DAY) % MINUTES_PER_DAY;
  return into < length ? Math.ceil((length - into) * 60_000) : 0;
}

/**
 * `ms` moved at random by up to ±`percent`%, so that rounds do not fall into a fixed rhythm
 * with anything else on the cluster. `random` returns [0, 1), as Math.random.
 */
export function jittered(ms: number, percent: number, random: () => number): number {
  if (percent <= 0 || ms <= 0) return ms;
  return Math.max(0, Math.round(ms * (1 + (percent / 100) * (2 * random() - 1))));
}
