/** Read samples out of Prometheus exposition text, for assertions. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = l[2] as string;
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample of `name` whose labels include `match`, or undefined. */
export function sampleValue(samples: Sample[], name: string, match: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))?.value;
}

/** The family names of exposition text, from its TYPE lines, in order. */
export function familyNames(text: string): string[] {
  return [...text.matchAll(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) /gm)].map((m) => m[1] as string);
}

/** One family's sample lines (HELP and TYPE dropped), each ending in a newline; '' if it has none. */
export function familySamples(text: string, name: string): string {
  const block = text.split('\n\n').find((b) => b.startsWith(`# HELP ${name} `));
  if (block === undefined) throw new Error(`no family ${name} in the exposition`);
  return block
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => `${l}\n`)
    .join('');
}
