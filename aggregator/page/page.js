// The live matrix page. Polls the read-only GET API every POLL_MS and draws one Vega-Lite
// heatmap per path and protocol (vega and vegaLite are the UMD globals of the two scripts the
// page loads before this one). Browser code: no build step, no modules.
/* global vega, vegaLite */
'use strict';

(() => {
  const POLL_MS = 2000;
  const PATHS = [
    ['node', 'node-to-node'],
    ['pod', 'pod-to-pod'],
    ['service', 'pod-to-service'],
  ];
  const PROTOCOLS = ['tcp', 'udp'];
  const CELL_PX = 52;
  const NO_DATA = '#e4e7eb';
  const BAD = '#c62828';

  const $ = (id) => document.querySelector(`[data-testid="${id}"]`);

  /** One heatmap per path x protocol: its element, its vega View and what it was built for. */
  const panels = new Map();

  const gbit = (bps) => (bps === null || bps === undefined ? null : bps / 1e9);
  const fmtGbit = (bps) => (bps === null || bps === undefined ? '-' : `${(bps / 1e9).toFixed(2)} Gbit/s`);
  const fmtTime = (iso) => (iso ? new Date(iso).toLocaleTimeString([], { hour12: false }) : '-');
  const pct = (p) => (p === null || p === undefined ? '-' : `${p.toFixed(0)}%`);

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

  async function getJson(url) {
    const res = await fetch(url, { cache: 'no-store' });
    if (!res.ok) throw new Error(`${url} answered HTTP ${res.status}`);
    return res.json();
  }

  // ---- heatmaps ----

  /** The Vega-Lite spec of one panel: x target, y source, colour Gbit/s; failed cells outlined red with a cross. */
  function heatmapSpec(nodes) {
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
        tooltip: [
          { field: 'pair', title: 'pair' },
          { field: 'result', title: 'latest test' },
          { field: 'throughput', title: 'throughput' },
          { field: 'cpu', title: 'node CPU client/server' },
          { field: 'extra', title: 'detail' },
          { field: 'tested', title: 'tested at' },
        ],
      },
      layer: [
        {
          name: 'cells',
          // 'show': keep cells without a value (failed, never measured) instead of dropping them.
          mark: { type: 'rect', stroke: '#ffffff', strokeWidth: 2, invalid: 'show' },
          encoding: {
            color: {
              // Failed or never measured: grey, not a colour of the scale.
              condition: { test: 'datum.gbit === null', value: NO_DATA },
              field: 'gbit',
              type: 'quantitative',
              title: 'Gbit/s',
              scale: { scheme: 'yellowgreenblue', domainMin: 0, nice: true },
              legend: { format: '.1f', gradientLength: Math.max(size - 20, 80), labelFontSize: 11, titleFontSize: 12 },
            },
          },
        },
        {
          name: 'values',
          mark: { type: 'text', fontSize: 12, fontWeight: 'bold' },
          encoding: {
            text: { field: 'label' },
            size: { condition: { test: '!datum.ok', value: 22 }, value: 12 },
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

  /** Rows for one panel, with everything the tooltip and the labels show already formatted. */
  function panelRows(cells) {
    const max = Math.max(0, ...cells.filter((c) => c.ok).map((c) => c.throughputBitsPerSecond ?? 0));
    return cells.map((c) => {
      const value = c.ok ? gbit(c.throughputBitsPerSecond) : null;
      const extra =
        c.protocol === 'udp'
          ? `loss ${c.udpLossRatio === null ? '-' : `${(c.udpLossRatio * 100).toFixed(2)}%`}`
          : `retransmits ${c.tcpRetransmits ?? '-'}`;
      return {
        source: c.source,
        target: c.target,
        ok: c.ok,
        gbit: value,
        label: c.ok ? (value === null ? '' : value.toFixed(value < 10 ? 2 : 1)) : '✕',
        // The top of the scheme is dark: white text there.
        dark: c.ok && (c.throughputBitsPerSecond ?? 0) > 0.55 * max,
        pair: `${c.source} → ${c.target}`,
        result: c.ok ? 'ok' : `FAILED ${c.error?.code ?? ''}: ${c.error?.message ?? ''}`,
        throughput: c.ok
          ? fmtGbit(c.throughputBitsPerSecond)
          : `- (last success ${c.lastSuccessAt ? `${fmtGbit(c.throughputBitsPerSecond)} at ${fmtTime(c.lastSuccessAt)}` : 'never'})`,
        cpu: `${pct(c.clientCpuBusyPercent)} / ${pct(c.serverCpuBusyPercent)}`,
        extra,
        tested: fmtTime(c.lastTestAt),
      };
    });
  }

  function ensurePanels() {
    const box = $('heatmaps');
    if (panels.size) return;
    // One row per protocol, one column per path.
    for (const protocol of PROTOCOLS) {
      for (const [path, pathTitle] of PATHS) {
        const key = `${path}-${protocol}`;
        const chart = el('div', { class: 'chart' });
        const note = el('div', { class: 'empty' }, 'no results yet');
        const stats = el('span', { class: 'hint' });
        const panel = el(
          'div',
          { class: 'panel', 'data-testid': `heatmap-${key}`, 'data-path': path, 'data-protocol': protocol },
          el('h3', {}, `${pathTitle} · ${protocol.toUpperCase()} `, stats),
          note,
          chart,
        );
        box.append(panel);
        panels.set(key, { panel, chart, note, stats, view: null, nodesKey: '', dataKey: '' });
      }
    }
  }

  async function drawPanel(p, nodes, cells) {
    p.note.hidden = cells.length > 0;
    const ok = cells.filter((c) => c.ok);
    const values = ok.map((c) => c.throughputBitsPerSecond ?? 0).sort((a, b) => a - b);
    const median = values.length ? values[Math.floor((values.length - 1) / 2)] : null;
    p.stats.textContent = cells.length ? `${ok.length}/${cells.length} pairs ok, median ${fmtGbit(median)}` : '';
    if (!cells.length) {
      p.view?.finalize();
      p.view = null;
      p.chart.replaceChildren();
      p.panel.dataset.cells = '0';
      p.panel.dataset.failed = '0';
      return;
    }
    const rows = panelRows(cells);
    const nodesKey = nodes.join(',');
    const dataKey = JSON.stringify(rows);
    if (p.view && nodesKey === p.nodesKey && dataKey === p.dataKey) return;
    if (!p.view || nodesKey !== p.nodesKey) {
      p.view?.finalize();
      p.chart.replaceChildren();
      const spec = vegaLite.compile(heatmapSpec(nodes)).spec;
      p.view = new vega.View(vega.parse(spec), { renderer: 'svg', container: p.chart, hover: true });
      p.nodesKey = nodesKey;
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

  async function drawHeatmaps(matrix) {
    ensurePanels();
    const names = new Set(matrix.nodes.map((n) => n.name));
    for (const c of matrix.cells) names.add(c.source).add(c.target);
    const nodes = [...names].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
    for (const [path] of PATHS) {
      for (const protocol of PROTOCOLS) {
        const cells = matrix.cells.filter((c) => c.path === path && c.protocol === protocol && c.source !== c.target);
        await drawPanel(panels.get(`${path}-${protocol}`), nodes, cells);
      }
    }
  }

  // ---- tables ----

  function drawAgents(agents, matrix) {
    const zones = new Map(matrix.nodes.map((n) => [n.name, n.topology?.zone ?? null]));
    const sorted = [...agents].sort(
      (a, b) => a.nodeName.localeCompare(b.nodeName, undefined, { numeric: true }) || a.mode.localeCompare(b.mode),
    );
    $('agents')
      .querySelector('tbody')
      .replaceChildren(
        ...sorted.map((a) =>
          el(
            'tr',
            { 'data-node': a.nodeName, 'data-mode': a.mode },
            el('td', {}, a.nodeName),
            el('td', {}, zones.get(a.nodeName) ?? '-'),
            el('td', {}, a.mode),
            el('td', {}, a.podName),
            el('td', {}, a.podIp),
            el('td', {}, a.hostIp),
            el('td', {}, a.iperf3Version),
          ),
        ),
      );
  }

  function drawRecent(results) {
    $('recent')
      .querySelector('tbody')
      .replaceChildren(
        ...results.map((r) =>
          el(
            'tr',
            { 'data-id': r.id, 'data-ok': String(r.ok) },
            el('td', {}, fmtTime(r.endedAt)),
            el('td', {}, r.path),
            el('td', {}, r.protocol),
            el('td', {}, `${r.source.node} → ${r.target.node}`),
            r.ok
              ? el('td', { class: 'num' }, fmtGbit(r.throughputBitsPerSecond) + (r.label ? ` (${r.label})` : ''))
              : el(
                  'td',
                  { class: 'failed', title: r.error?.message ?? '' },
                  `failed: ${r.error?.code ?? 'unknown'}${r.label ? ` (${r.label})` : ''}`,
                ),
          ),
        ),
      );
  }

  function drawRuns(runs) {
    const active = runs.filter((r) => r.status !== 'done');
    const last = runs
      .filter((r) => r.status === 'done')
      .sort((a, b) => (a.endedAt ?? '').localeCompare(b.endedAt ?? ''))
      .at(-1);
    const shown = active.length ? active : last ? [last] : [];
    $('runs').hidden = shown.length === 0;
    $('run-progress').replaceChildren(
      ...shown.map((r) => {
        const current = r.current ? ` · now ${r.current.path} ${r.current.protocol} ${r.current.source} → ${r.current.target}` : '';
        const ended = r.status === 'done' ? ` · ended ${fmtTime(r.endedAt)}` : '';
        return el(
          'div',
          { class: 'run', 'data-status': r.status, 'data-done': String(r.done), 'data-total': String(r.total), 'data-label': r.label },
          el('strong', {}, `run "${r.label}"`),
          ` ${r.status} `,
          el('progress', { max: Math.max(r.total, 1), value: r.done }),
          `${r.done}/${r.total} tests done, ${r.failed} failed${current}${ended}`,
        );
      }),
    );
  }

  function drawStatus(status) {
    const box = $('status');
    const kube = status?.kubernetes;
    const parts = [];
    if (kube?.source) {
      const line = el('div', {}, el('strong', {}, 'Kubernetes '), `(${kube.source}): `);
      for (const [name, c] of Object.entries(kube.components ?? {})) {
        line.append(el('span', { class: c.state === 'ok' ? 'good' : 'bad', title: c.reason ?? '' }, `${name} ${c.state}`), ' ');
        if (c.state !== 'ok' && c.reason) line.append(`(${c.reason}) `);
      }
      parts.push(line);
    }
    const sp = status?.servicePath;
    if (sp && (sp.missing.length || sp.ready)) {
      parts.push(
        el(
          'div',
          {},
          el('strong', {}, 'pod-to-service: '),
          sp.missing.length
            ? el('span', { class: 'bad' }, `${sp.ready} ready, no service address for ${sp.missing.join(', ')}: ${sp.reason ?? ''}`)
            : el('span', { class: 'good' }, `${sp.ready} pod agents reachable through a service`),
        ),
      );
    }
    box.hidden = parts.length === 0;
    box.replaceChildren(...parts);
  }

  // ---- loop ----

  async function poll() {
    try {
      const [matrix, agents, results, runs, status] = await Promise.all([
        getJson('/api/matrix'),
        getJson('/api/agents'),
        getJson('/api/results?limit=20'),
        getJson('/api/runs'),
        getJson('/api/status'),
      ]);
      const nodes = new Set(agents.map((a) => a.nodeName)).size;
      $('summary').textContent = `${agents.length} agents on ${nodes} nodes · ${matrix.cells.length} pairs measured`;
      drawAgents(agents, matrix);
      drawRecent(results);
      drawRuns(runs);
      drawStatus(status);
      await drawHeatmaps(matrix);
      const updated = $('updated');
      updated.textContent = `updated ${fmtTime(matrix.generatedAt)}`;
      updated.dataset.at = matrix.generatedAt;
      $('error').hidden = true;
    } catch (e) {
      console.error('netmatrix page: update failed', e);
      const box = $('error');
      box.hidden = false;
      box.textContent = `cannot update: ${e instanceof Error ? e.message : String(e)}`;
    } finally {
      setTimeout(() => void poll(), POLL_MS);
    }
  }

  void poll();
})();
