// The live matrix page. Polls the read-only GET API every POLL_MS and draws, per path and
// protocol, a throughput heatmap and a round-trip heatmap (heatmap.js and latency.js, loaded
// before this script with vega's and vega-lite's UMD globals), and the tables around them.
// Browser code: no build step, no modules.
'use strict';

(() => {
  const POLL_MS = 2000;
  const PATHS = [
    ['node', 'node-to-node'],
    ['pod', 'pod-to-pod'],
    ['service', 'pod-to-service'],
  ];
  const PROTOCOLS = ['tcp', 'udp'];
  const { heatmap, latency } = window.netmatrix;
  const { el } = heatmap;

  const $ = (id) => document.querySelector(`[data-testid="${id}"]`);

  /** The throughput panels by `${path}-${protocol}`, and the round-trip view; made on the first poll. */
  let throughputPanels = null;
  let latencyView = null;

  const gbit = (bps) => (bps === null || bps === undefined ? null : bps / 1e9);
  const fmtGbit = (bps) => (bps === null || bps === undefined ? '-' : `${(bps / 1e9).toFixed(2)} Gbit/s`);
  const fmtTime = (iso) => (iso ? new Date(iso).toLocaleTimeString([], { hour12: false }) : '-');
  const pct = (p) => (p === null || p === undefined ? '-' : `${p.toFixed(0)}%`);

  async function getJson(url) {
    const res = await fetch(url, { cache: 'no-store' });
    if (!res.ok) throw new Error(`${url} answered HTTP ${res.status}`);
    return res.json();
  }

  // ---- throughput heatmaps ----

  const THROUGHPUT = {
    colorTitle: 'Gbit/s',
    scheme: 'yellowgreenblue',
    legend: { format: '.1f' },
    tooltip: [
      { field: 'pair', title: 'pair' },
      { field: 'result', title: 'latest test' },
      { field: 'throughput', title: 'throughput' },
      { field: 'cpu', title: 'node CPU client/server' },
      { field: 'extra', title: 'detail' },
      { field: 'tested', title: 'tested at' },
    ],
  };

  /** Rows for one throughput panel, with everything the tooltip and the labels show already formatted. */
  function throughputRows(cells) {
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
        value,
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

  async function drawThroughput(p, nodes, cells) {
    const ok = cells.filter((c) => c.ok);
    const median = heatmap.median(ok.map((c) => c.throughputBitsPerSecond ?? 0));
    p.stats.textContent = cells.length ? `${ok.length}/${cells.length} pairs ok, median ${fmtGbit(median)}` : '';
    await heatmap.draw(p, nodes.join(','), nodes, THROUGHPUT, throughputRows(cells));
  }

  /** Both views, created on the first poll (the switch is in the page, the panels are not). */
  function ensureViews() {
    if (throughputPanels) return;
    throughputPanels = heatmap.createPanels(
      $('heatmaps'),
      'heatmap',
      PATHS,
      PROTOCOLS,
      (pathTitle, protocol) => `${pathTitle} · ${protocol.toUpperCase()} `,
    );
    latencyView = latency.createView($('rtt-heatmaps'), $('rtt-switch'), PATHS, PROTOCOLS);
  }

  async function drawHeatmaps(matrix) {
    ensureViews();
    const latencyCells = matrix.latency ?? [];
    // Both views on the same axes: every node known, whether or not it has a result of that kind yet.
    const names = new Set(matrix.nodes.map((n) => n.name));
    for (const c of [...matrix.cells, ...latencyCells]) names.add(c.source).add(c.target);
    const nodes = [...names].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
    for (const [path] of PATHS) {
      for (const protocol of PROTOCOLS) {
        const cells = matrix.cells.filter((c) => c.path === path && c.protocol === protocol && c.source !== c.target);
        await drawThroughput(throughputPanels.get(`${path}-${protocol}`), nodes, cells);
      }
    }
    await latencyView.draw(latencyCells, nodes);
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
            // Without sockperf an agent takes no latency tests.
            el('td', a.sockperfVersion ? {} : { title: 'no sockperf: this agent takes no latency tests' }, a.sockperfVersion ?? '-'),
          ),
        ),
      );
  }

  // Results stored before latency tests existed have no kind: they were throughput tests.
  const kindOf = (r) => r.kind ?? 'throughput';

  /** A successful test's figure: throughput, or a latency test's median round trip (its throughput is null). */
  function figure(r) {
    if (kindOf(r) === 'latency') return `${latency.fmtRtt(r.latency?.rttMicroseconds?.p50)} p50 RTT`;
    return fmtGbit(r.throughputBitsPerSecond);
  }

  function drawRecent(results) {
    $('recent')
      .querySelector('tbody')
      .replaceChildren(
        ...results.map((r) =>
          el(
            'tr',
            { 'data-id': r.id, 'data-ok': String(r.ok), 'data-kind': kindOf(r) },
            el('td', {}, fmtTime(r.endedAt)),
            el('td', {}, kindOf(r)),
            el('td', {}, r.path),
            el('td', {}, r.protocol),
            el('td', {}, `${r.source.node} → ${r.target.node}`),
            r.ok
              ? el('td', { class: 'num' }, figure(r) + (r.label ? ` (${r.label})` : ''))
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
        const c = r.current;
        const current = c ? ` · now ${c.kind ?? 'throughput'} ${c.path} ${c.protocol} ${c.source} → ${c.target}` : '';
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
      const rtt = matrix.latency?.length ?? 0;
      $('summary').textContent =
        `${agents.length} agents on ${nodes} nodes · ${matrix.cells.length} pairs measured for throughput, ${rtt} for round trip`;
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
