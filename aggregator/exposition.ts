/**
 * Gauge families written straight to Prometheus's text format (0.0.4), for the figures /metrics
 * derives from the matrix at scrape time. Through prom-client each series was a labelled object
 * set into a gauge (hashing its labels), copied out at scrape time and formatted through several
 * intermediate strings: at 5,000 nodes, 230,000 series, that was most of a 3 s scrape and the
 * aggregator's memory peak. Here a series is one line, built once. Counters, histograms and the
 * small gauges stay with prom-client.
 */

/** Label values of one series. */
export type Labels = Record<string, string>;

export interface GaugeFamily {
  name: string;
  help: string;
  /** The order labels are written in; a label missing from a series is left out. */
  labelNames: readonly string[];
}

/** The format's escapes: backslash and newline (and `"` in label values). */
const escapeHelp = (s: string) => (/[\\\n]/.test(s) ? s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n') : s);
const escapeLabelValue = (s: string) => (/[\\\n"]/.test(s) ? escapeHelp(s).replace(/"/g, '\\"') : s);

/** A sample value: JavaScript's shortest round-trip form, as prom-client writes it; +Inf, -Inf, NaN. */
function sampleValue(v: number): string {
  if (Number.isFinite(v)) return `${v}`;
  return Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf';
}

/** Lines joined into one string at a time: short-lived lines die young instead of reaching V8's old space. */
const LINES_PER_CHUNK = 1024;

/**
 * Samples of a fixed list of gauge families, added in any order and written family by family
 * (the format wants each family's lines together), in the order the families were listed. The
 * text comes out as chunks of about a thousand lines (about 120 KB), never one string: at 5,000
 * nodes /metrics is 24 MB, and copies of it were most of what a scrape held.
 */
export class GaugeText {
  private readonly families = new Map<GaugeFamily, { chunks: string[]; lines: string[] }>();

  constructor(families: readonly GaugeFamily[]) {
    for (const f of families) this.families.set(f, { chunks: [], lines: [] });
  }

  sample(family: GaugeFamily, labels: Labels, value: number): void {
    const f = this.families.get(family);
    if (!f) throw new Error(`${family.name} is not one of this exposition's families`);
    // Joined from parts, not concatenated: a flat string, where `+` builds a rope of pieces.
    const parts: string[] = [family.name];
    for (const name of family.labelNames) {
      const v = labels[name];
      if (v !== undefined) parts.push(parts.length === 1 ? '{' : ',', name, '="', escapeLabelValue(v), '"');
    }
    parts.push(parts.length === 1 ? ' ' : '} ', sampleValue(value), '\n');
    f.lines.push(parts.join(''));
    if (f.lines.length === LINES_PER_CHUNK) {
      f.chunks.push(f.lines.join(''));
      f.lines.length = 0;
    }
  }

  /**
   * Every family's HELP, TYPE and sample lines, each line ending in a newline, a blank line
   * between families (as prom-client writes its own).
   */
  chunks(): string[] {
    const out: string[] = [];
    for (const [g, f] of this.families) {
      if (out.length > 0) out.push('\n');
      out.push(`# HELP ${g.name} ${escapeHelp(g.help)}\n# TYPE ${g.name} gauge\n`, ...f.chunks);
      if (f.lines.length > 0) out.push(f.lines.join(''));
    }
    return out;
  }
}
