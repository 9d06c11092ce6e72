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
export const escapeLabelValue = (s: string) => (/[\\\n"]/.test(s) ? escapeHelp(s).replace(/"/g, '\\"') : s);

/** A sample value: JavaScript's shortest round-trip form, as prom-client writes it; +Inf, -Inf, NaN. */
export function sampleValue(v: number): string {
  if (Number.isFinite(v)) return `${v}`;
  return Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf';
}

/**
 * Samples of a fixed list of gauge families, added in any order and written family by family
 * (the format wants each family's lines together), in the order the families were listed.
 */
export class GaugeText {
  private readonly lines = new Map<GaugeFamily, string[]>();

  constructor(families: readonly GaugeFamily[]) {
    for (const f of families) this.lines.set(f, []);
  }

  sample(family: GaugeFamily, labels: Labels, value: number): void {
    const lines = this.lines.get(family);
    if (!lines) throw new Error(`${family.name} is not one of this exposition's families`);
    const parts: string[] = [family.name];
    for (const name of family.labelNames) {
      const v = labels[name];
      if (v !== undefined) parts.push(parts.length === 1 ? '{' : ',', name, '="', escapeLabelValue(v), '"');
    }
    parts.push(parts.length === 1 ? ' ' : '} ', sampleValue(value));
    lines.push(parts.join(''));
  }

  /** Every family's HELP, TYPE and samples; families apart by a blank line as prom-client writes them, no final newline. */
  text(): string {
    const blocks: string[] = [];
    for (const [f, lines] of this.lines)
      blocks.push([`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} gauge`, ...lines].join('\n'));
    return blocks.join('\n\n');
  }
}
