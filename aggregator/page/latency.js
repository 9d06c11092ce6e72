// The live page's round-trip view: a heatmap per path and protocol of the latest latency test
// (sockperf ping-pong) per ordered pair, from GET /api/matrix `latency`, coloured by the p50 or
// the p99 round trip as the page's switch says. Round trips are full request/response times in
// µs, shown in µs below 1 ms and in ms above. Browser code: no build step, no modules; reached
// through window.netmatrix.latency.
'use strict';

window.netmatrix = window.netmatrix || {};

window.netmatrix.latency = (() => {
  const { createPanels, draw, median } = window.netmatrix.heatmap;

  /** The percentiles the switch offers: the field of `rttMicroseconds` and what the page calls it. */
  const PERCENTILES = { p50: 'p50', p99: 'p99' };

  /** A round trip in µs as people read it: "48 µs", "812 µs", "1.25 ms", "31.4 ms"; '-' for none. */
  function fmtRtt(us) {
    if (us === null || us === undefined) return '-';
    if (Math.round(us) < 1000) return `${us < 10 ? us.toFixed(1) : us.toFixed(0)} µs`;
    const ms = us / 1000;
    return `${ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0)} ms`;
  }

  const fmtTime = (iso) => (iso ? new Date(iso).toLocaleTimeString([], { hour12: false }) : '-');
  const fmtRatio = (r) => (r === null || r === undefined ? '-' : `${(r * 100).toFixed(2)}%`);

  /** The Vega-Lite options of a round-trip panel coloured by `pct`. */
  function specOptions(pct) {
    return {
      colorTitle: `round trip ${PERCENTILES[pct]}`,
      scheme: 'purples',
      // The legend's ticks in the page's units too (a vega expression: the CSP allows eval for vega).
      legend: {
        labelExpr: "datum.value < 1000 ? format(datum.value, '.3~r') + ' µs' : format(datum.value / 1000, '.3~r') + ' ms'",
      },
      fontSize: 11,
      tooltip: [
        { field: 'pair', title: 'pair' },
        { field: 'result', title: 'latest test' },
        { field: 'p50', title: 'round trip p50' },
        { field: 'p90', title: 'round trip p90' },
        { field: 'p99', title: 'round trip p99' },
        { field: 'p999', title: 'round trip p99.9' },
        { field: 'extra', title: 'detail' },
        { field: 'tested', title: 'tested at' },
      ],
    };
  }

  /** Rows of one panel, everything the tooltip and the labels show already formatted. */
  function rows(cells, pct) {
    const max = Math.max(0, ...cells.filter((c) => c.ok).map((c) => c.rttMicroseconds?.[pct] ?? 0));
    return cells.map((c) => {
      const rtt = c.rttMicroseconds;
      const value = c.ok ? (rtt?.[pct] ?? null) : null;
      // A failed pair's figures are its last success's (the API keeps them): say so.
      const last = rtt ? `${fmtRtt(rtt.p50)} at ${fmtTime(c.lastSuccessAt)}` : 'never';
      const shown = (field) => (c.ok ? fmtRtt(rtt?.[field]) : '-');
      return {
        source: c.source,
        target: c.target,
        ok: c.ok,
        value,
        label: c.ok ? (value === null ? '' : fmtRtt(value)) : '✕',
        // The top of the scheme is dark: white text there.
        dark: c.ok && (value ?? 0) > 0.55 * max,
        pair: `${c.source} → ${c.target}`,
        result: c.ok ? 'ok' : `FAILED ${c.error?.code ?? ''}: ${c.error?.message ?? ''}`,
        p50: c.ok ? fmtRtt(rtt?.p50) : `- (last success ${last})`,
        p90: shown('p90'),
        p99: shown('p99'),
        p999: shown('p999'),
        extra:
          c.protocol === 'udp'
            ? `dropped ${c.ok ? fmtRatio(c.droppedRatio) : '-'}`
            : `TCP connect p50 ${c.ok ? fmtRtt(c.connectP50Microseconds) : '-'}`,
        tested: fmtTime(c.lastTestAt),
      };
    });
  }

  /**
   * The round-trip view in `box`, coloured by the percentile chosen in `switchBox` (radio inputs
   * with the values of PERCENTILES); a change of percentile redraws at once from the last matrix.
   */
  function createView(box, switchBox, paths, protocols) {
    const panels = createPanels(
      box,
      'rtt',
      paths,
      protocols,
      (pathTitle, protocol) => `${pathTitle} · ${protocol.toUpperCase()} round trip `,
    );
    let last = null;
    const percentile = () => {
      const chosen = switchBox.querySelector('input:checked')?.value;
      return chosen in PERCENTILES ? chosen : 'p50';
    };

    // One drawing at a time: a switch change during a poll's drawing waits for it (two at once
    // could finalize a view the other is still feeding).
    let drawing = Promise.resolve();
    const drawAll = (latency, nodes) => {
      last = { latency, nodes };
      drawing = drawing.catch(() => undefined).then(() => drawNow(latency, nodes));
      return drawing;
    };

    async function drawNow(latency, nodes) {
      const pct = percentile();
      box.dataset.percentile = pct;
      for (const [path] of paths) {
        for (const protocol of protocols) {
          const cells = latency.filter((c) => c.path === path && c.protocol === protocol && c.source !== c.target);
          const p = panels.get(`${path}-${protocol}`);
          const ok = cells.filter((c) => c.ok);
          const mid = median(ok.map((c) => c.rttMicroseconds?.[pct]).filter((v) => v !== null && v !== undefined));
          p.stats.textContent = cells.length ? `${ok.length}/${cells.length} pairs ok, median ${PERCENTILES[pct]} ${fmtRtt(mid)}` : '';
          await draw(p, `${nodes.join(',')} ${pct}`, nodes, specOptions(pct), rows(cells, pct));
        }
      }
    }

    switchBox.addEventListener('change', () => {
      if (!last) return;
      drawAll(last.latency, last.nodes).catch((e) => console.error('netmatrix page: round-trip redraw failed', e));
    });
    return { draw: drawAll };
  }

  return { fmtRtt, createView };
})();
