/**
 * Bit rates as a person writes them on a command line: "2gbit", "500m", "1.5G", "100000000".
 * Pure. (The lab's `--link-rate` parser in lab/shaping.ts takes tc's spelling only, because its
 * text goes to tc as written, and client/ may not import lab/.)
 */

/** Decimal, as iperf3's `-b` and tc's rates: 1k = 1000 bit/s. */
const UNITS: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12 };

/** What a rate may be written as, for messages. */
export const BITRATE_EXAMPLES = '2gbit, 500m, 1.5g or 100000000 (bits/s)';

/**
 * Bits per second of `text`: a number, optionally followed by k, m, g or t (case-insensitive,
 * with or without "bit"), rounded to a whole bit/s; undefined when it is not such a rate.
 * "b" alone, "bps" and "/s" are not taken: tc and iperf3 disagree on whether they mean bytes.
 */
export function parseBitsPerSecond(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([kmgt]?)(?:bit)?$/i.exec(text.trim());
  const unit = m ? UNITS[(m[2] ?? '').toLowerCase()] : undefined;
  if (!m || unit === undefined) return undefined;
  const bps = Math.round(Number(m[1]) * unit);
  return Number.isSafeInteger(bps) ? bps : undefined;
}
