// The live page's heatmaps: one Vega-Lite spec and one way to draw it, shared by the throughput
// and the round-trip views. A row per ordered pair: x target, y source, colour `value`; a pair
// whose latest test failed has no value, is grey, outlined red, with a cross. Browser code: no
// build step, no modules; page.js and latency.js reach this through window.netmatrix.heatmap.
/* global vega, vegaLite */
'use strict';

window.netmatrix = window.netmatrix || {};

window.netmatrix.heatmap = (() => {
  const CELL_PX = 52;
  const NO_DATA = '#e4e7eb';
  const BAD = '#c62828';

  function el(tag, props = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === 'class') e.className = v;
      else if (k.startsWith('data-')) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children) e.append(c);
    return e;
  }

  /**
   * The Vega-Lite spec of one panel. `o`: `colorTitle`; `scheme` (a vega colour scheme);
   * `legend` (extra legend properties: `format` or `labelExpr`); `tooltip` ([{ field, title }]);
   * `fontSize` of the figures.
   */
  function spec(nodes, o) {
    const axis = { labelFontSize: 12, titleFontSize: 12, titleColor: '#5f6b7a', domain: false, ticks: false };
    const size = Math.max(nodes.length, 1) * CELL_PX;
    return {
      width: size,
      height: size,
      data: { name: 'cells' },
      encoding: {
        x: {
          field: 'target',
          type: 'nominal',
          scale: { domain: nodes },
          axis: { ...axis, orient: 'top', labelAngle: 0 },
          title: 'target (server)',
        },
        y: { field: 'source', type: 'nominal', scale: { domain: nodes }, axis, title: 'source (client)' },
        tooltip: o.tooltip,
        // Each mark's aria-label: the tooltip's text (left to vega-lite, it would also list the raw
        // colour value under the legend's title, without its unit).
        description: { field: 'description' },
      },
      layer: [
        {
          name: 'cells',
          // 'show': keep cells without a value (failed, never measured) instead of dropping them.
          mark: { type: 'rect', stroke: '#ffffff', strokeWidth: 2, invalid: 'show' },
          encoding: {
            color: {
              // Failed or never measured: grey, not a colour of the scale.
              condition: { test: 'datum.value === null', value: NO_DATA },
              field: 'value',
              type: 'quantitative',
              title: o.colorTitle,
              scale: { scheme: o.scheme, domainMin: 0, nice: true },
              legend: { gradientLength: Math.max(size - 20, 80), labelFontSize: 11, titleFontSize: 12, ...o.legend },
            },
          },
        },
        {
          name: 'values',
          mark: { type: 'text', fontSize: o.fontSize ?? 12, fontWeight: 'bold' },
          encoding: {
            text: { field: 'label' },
            size: { condition: { test: '!datum.ok', value: 22 }, value: o.fontSize ?? 12 },
            color: {
              condition: [
                { test: '!datum.ok', value: BAD },
                { test: 'datum.dark', value: '#ffffff' },
              ],
              value: '#1d2330',
            },
          },
        },
        {
          name: 'failed',
          transform: [{ filter: '!datum.ok' }],
          mark: { type: 'rect', filled: false, stroke: BAD, strokeWidth: 3 },
        },
      ],
      config: { view: { stroke: null } },
    };
  }

  /**
   * One panel per path x protocol into `box`, a row per protocol and a column per path; each
   * panel's data-testid is `${prefix}-${path}-${protocol}`. Returns them by `${path}-${protocol}`.
   */
  function createPanels(box, prefix, paths, protocols, heading) {
    const panels = new Map();
    for (const protocol of protocols) {
      for (const [path, pathTitle] of paths) {
        const key = `${path}-${protocol}`;
        const chart = el('div', { class: 'chart' });
        const note = el('div', { class: 'empty' }, 'no results yet');
        const stats = el('span', { class: 'hint' });
        const panel = el(
          'div',
          { class: 'panel', 'data-testid': `${prefix}-${key}`, 'data-path': path, 'data-protocol': protocol },
          el('h3', {}, heading(pathTitle, protocol), stats),
          note,
          chart,
        );
        box.append(panel);
        panels.set(key, { panel, chart, note, stats, view: null, specKey: '', dataKey: '' });
      }
    }
    return panels;
  }

  /**
   * Draw `rows` into panel `p` with the spec of `nodes` and options `o` (see spec); the view is
   * rebuilt only when `specKey` (the nodes, and whatever else shapes the options) changed, and fed
   * only when the rows did. Each row gets its `description`: "title: value; ..." of the tooltip.
   */
  async function draw(p, specKey, nodes, o, rawRows) {
    const rows = rawRows.map((r) => ({ ...r, description: o.tooltip.map((t) => `${t.title}: ${r[t.field]}`).join('; ') }));
    p.note.hidden = rows.length > 0;
    if (!rows.length) {
      p.view?.finalize();
      p.view = null;
      p.specKey = '';
      p.chart.replaceChildren();
      p.panel.dataset.cells = '0';
      p.panel.dataset.failed = '0';
      return;
    }
    const dataKey = JSON.stringify(rows);
    if (p.view && specKey === p.specKey && dataKey === p.dataKey) return;
    if (!p.view || specKey !== p.specKey) {
      p.view?.finalize();
      p.chart.replaceChildren();
      const compiled = vegaLite.compile(spec(nodes, o)).spec;
      p.view = new vega.View(vega.parse(compiled), { renderer: 'svg', container: p.chart, hover: true });
      p.specKey = specKey;
    }
    p.dataKey = dataKey;
    await p.view
      .change(
        'cells',
        vega
          .changeset()
          .remove(() => true)
          .insert(rows),
      )
      .runAsync();
    // What was rendered, for a reader of the DOM (and the browser test): the cells and failed marks drawn.
    p.panel.dataset.cells = String(p.chart.querySelectorAll('g.cells_marks > path').length);
    p.panel.dataset.failed = String(p.chart.querySelectorAll('g.failed_marks > path').length);
  }

  /** The median of `values` (the lower middle one), or null for none. */
  function median(values) {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)] : null;
  }

  return { el, createPanels, draw, median };
})();
