/**
 * The HTML report: one self-contained file (inline CSS and SVG, nothing fetched) with the same
 * notes, run headers, tables and footnotes as the text output, and the charts. Every string
 * that comes from a results file is escaped; the page also forbids scripts outright in its
 * Content-Security-Policy, so a label that slipped through could still not run.
 */
import type { RenderedChart } from './charts.js';
import { hasThroughput, type Comparison } from './compare.js';
import { runHeaderLines } from './describe.js';
import { footnotes, judgedTables, latencyTable, overheadTable, sectionTable, type Table } from './table.js';
import { pathProtocolTitle } from './units.js';

/** Escape text for HTML element content and double- or single-quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

const CSS = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2.5rem; border-bottom: 1px solid #ddd; }
h3 { font-size: 1rem; margin-top: 1.5rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { padding: 0.25rem 0.75rem; border-bottom: 1px solid #eee; white-space: nowrap; }
th { text-align: left; background: #f5f5f5; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.notes li { color: #8a4b00; } .run { margin: 0.5rem 0; } .run ul { margin: 0.2rem 0; color: #444; }
.charts { display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: flex-start; }
figure { margin: 0; } svg { max-width: 100%; height: auto; }
.footnotes { color: #555; font-size: 0.9rem; margin-top: 2rem; }
.table-notes { color: #555; font-size: 0.9rem; margin-top: -0.5rem; }
`;

function tableHtml(t: Table, caption = true): string {
  const cls = (j: number) => (t.columns[j]?.align === 'right' ? ' class="num"' : '');
  const head = t.columns.map((c, j) => `<th${cls(j)}>${escapeHtml(c.header)}</th>`).join('');
  const body = t.rows.map((r) => `<tr>${r.map((cell, j) => `<td${cls(j)}>${escapeHtml(cell)}</td>`).join('')}</tr>`).join('\n');
  return [
    '<table>',
    caption ? `<caption hidden>${escapeHtml(t.title)}</caption>` : '',
    `<thead><tr>${head}</tr></thead>`,
    `<tbody>\n${body}\n</tbody>`,
    '</table>',
    ...(t.notes && t.notes.length > 0 ? [`<ul class="table-notes">${t.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>`] : []),
  ].join('\n');
}

/** A judged table under its own heading. */
function judgedHtml(t: Table): string {
  return [`<h3>${escapeHtml(t.title)}</h3>`, tableHtml(t, false)].join('\n');
}

function figure(chart: RenderedChart): string {
  // The SVG comes from vega, which escapes every label it writes; it is embedded as markup so
  // the report stays one file and its text stays searchable.
  return `<figure aria-label="${escapeHtml(chart.title)}" data-file="${escapeHtml(chart.file)}">\n${chart.svg}\n</figure>`;
}

/** A row of charts; nothing for none. */
function chartsHtml(charts: readonly RenderedChart[]): string {
  return charts.length === 0 ? '' : `<div class="charts">\n${charts.map(figure).join('\n')}\n</div>`;
}

/** The whole report. `charts` may be empty (the report is then tables only). */
export function renderHtml(c: Comparison, charts: readonly RenderedChart[]): string {
  const title = `netmatrix compare: ${c.runs.map((r) => r.label).join(' vs ')}`;
  const parts: string[] = [];
  parts.push(`<h1>${escapeHtml(title)}</h1>`);
  if (c.notes.length > 0) {
    parts.push(`<ul class="notes">\n${c.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('\n')}\n</ul>`);
  }
  parts.push('<h2>Runs</h2>');
  for (const r of c.runs) {
    const lines = runHeaderLines(r)
      .map((l) => `<li>${escapeHtml(l)}</li>`)
      .join('');
    parts.push(`<div class="run"><strong>${escapeHtml(r.label)}</strong><ul>${lines}</ul></div>`);
  }
  const overview = charts.filter((ch) => ch.section === null);
  if (overview.length > 0) parts.push('<h2>Overview</h2>', chartsHtml(overview));
  for (const s of c.sections) {
    const own = (kind: RenderedChart['kind']) =>
      chartsHtml(charts.filter((ch) => ch.kind === kind && ch.section?.path === s.path && ch.section.protocol === s.protocol));
    parts.push(`<h2>${escapeHtml(pathProtocolTitle(s.path, s.protocol))}</h2>`);
    const title = pathProtocolTitle(s.path, s.protocol);
    if (hasThroughput(s)) {
      parts.push(tableHtml(sectionTable(c, s)), ...judgedTables(c, `${title} throughput`, s.figures).map(judgedHtml), own('throughput'));
    }
    const latency = s.latency;
    if (latency) {
      const t = latencyTable(c, { ...s, latency });
      parts.push(
        `<h3>${escapeHtml(t.title)}</h3>`,
        tableHtml(t, false),
        ...judgedTables(c, `${title} latency`, latency.figures).map(judgedHtml),
        own('latency'),
      );
    }
  }
  const overhead = overheadTable(c);
  if (overhead) parts.push(`<h2>CNI overhead</h2>`, `<p>${escapeHtml(overhead.title)}</p>`, tableHtml(overhead, false));
  parts.push(
    `<div class="footnotes">\n${footnotes(c)
      .map((f) => `<p>${escapeHtml(f)}</p>`)
      .join('\n')}\n</div>`,
  );
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    ...parts,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
