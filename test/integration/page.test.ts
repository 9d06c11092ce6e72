/**
 * The live page in a real browser (Debian's Chromium driven by playwright-core) against a real
 * 3-node lab with a quick background sweep of throughput (iperf3) and latency (sockperf) tests:
 * what a user sees is what was rendered, in both views, it updates without a reload, shows an
 * on-demand run's progress, and marks exactly the pairs whose latest test failed (made to fail
 * for real with iptables REJECTs in one pod's namespace), in the throughput and round-trip views.
 */
import { mkdir } from 'node:fs/promises';
import { pino } from 'pino';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { planLab } from '../../lab/plan.js';
import { startLabSession, type LabSession } from '../../lab/session.js';
import { PATHS, PROTOCOLS } from '../../shared/protocol.js';
import { exec, execChecked } from '../../sys/exec.js';
import { describeWith, waitFor } from '../helpers/requirements.js';

const SCREENSHOT = 'test-artifacts/matrix-page.png';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  // The lab's addresses are local: never send the page's requests to a proxy from the environment.
  '--no-proxy-server',
];

/** What the page drew in one heatmap, read from the SVG vega rendered (not from the API). */
interface Drawn {
  key: string;
  cells: number;
  /** "source->target" of each cell drawn with the failed outline, and its tooltip text. */
  failed: Array<{ pair: string; label: string }>;
  /** Each figure drawn in a cell and its mark's tooltip text. */
  figures: Array<{ text: string; label: string }>;
}

/** The throughput view's panels are `heatmap-<path>-<protocol>`, the round-trip view's `rtt-<path>-<protocol>`. */
type View = 'heatmap' | 'rtt';

/**
 * Runs in the page (a string: this project's TypeScript has no DOM types). The tooltip text
 * vega puts into each mark's aria-label names the pair.
 */
const drawnScript = (view: View) => `[...document.querySelectorAll('.panel[data-testid^="${view}-"]')].map((panel) => ({
  key: panel.dataset.testid.replace('${view}-', ''),
  cells: panel.querySelectorAll('svg g.cells_marks > path').length,
  failed: [...panel.querySelectorAll('svg g.failed_marks > path')].map((p) => {
    const label = p.getAttribute('aria-label') || '';
    const m = /pair: (\\S+) → (\\S+);/.exec(label);
    return { pair: m ? m[1] + '->' + m[2] : '?', label };
  }),
  figures: [...panel.querySelectorAll('svg g.values_marks > text')].map((t) => ({
    text: t.textContent,
    label: t.getAttribute('aria-label') || '',
  })),
}))`;

interface MatrixCell {
  path: string;
  protocol: string;
  source: string;
  target: string;
  ok: boolean;
  error: { code: string } | null;
}

interface Matrix {
  cells: MatrixCell[];
  latency: Array<MatrixCell & { rttMicroseconds: { p50: number; p99: number } | null }>;
}

/** "<panel> <source>-><target>" of every failed cell of `cells`, sorted: what a view should mark. */
const failedKeys = (cells: MatrixCell[]) =>
  cells
    .filter((c) => !c.ok)
    .map((c) => `${c.path}-${c.protocol} ${c.source}->${c.target}`)
    .sort();

/** The same, as a view drew it. */
const markedKeys = (drawn: Drawn[]) => drawn.flatMap((d) => d.failed.map((f) => `${d.key} ${f.pair}`)).sort();

// Agents without sockperf take no latency tests: the round-trip view would stay empty.
describeWith(
  { root: true, binaries: ['ip', 'iptables', 'iperf3', 'sockperf', 'chromium'] },
  'the live matrix page in Chromium on a 3-node lab',
  () => {
    const plan = planLab(3);
    const node2Pod = plan.nodes[1]?.podNetns ?? 'nm-pod2';
    // The port of both iperf3's and sockperf's server in a pod (one test at a time): TCP refused
    // with a reset fails iperf3's control connection and sockperf's TCP connect; UDP refused with
    // ICMP port-unreachable fails sockperf's UDP ping-pong.
    const rejects = [
      ['INPUT', '-p', 'tcp', '--dport', '5201', '-j', 'REJECT', '--reject-with', 'tcp-reset'],
      ['INPUT', '-p', 'udp', '--dport', '5201', '-j', 'REJECT', '--reject-with', 'icmp-port-unreachable'],
    ];
    let session: LabSession;
    let browser: Browser;
    let page: Page;
    let rejecting = false;
    const problems: string[] = [];

    const drawn = (view: View = 'heatmap'): Promise<Drawn[]> => page.evaluate<Drawn[]>(drawnScript(view));
    const matrix = async (): Promise<Matrix> => (await (await fetch(`${session.url}/api/matrix`)).json()) as Matrix;
    const startRun = async (label: string, kinds: string[] = ['throughput'], protocols: string[] = ['tcp']) => {
      const res = await fetch(`${session.url}/api/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${session.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ label, kinds, paths: ['pod'], protocols, durationSeconds: 1 }),
      });
      expect(res.status).toBe(202);
      return ((await res.json()) as { id: string }).id;
    };
    const runDone = (id: string) =>
      waitFor(
        async () => ((await (await fetch(`${session.url}/api/runs/${id}`)).json()) as { status: string }).status === 'done',
        // 'reject': 24 tests, 12 of them latency tests of about 3.3 s each.
        120_000,
        `run ${id} to finish`,
        250,
      );

    beforeAll(async () => {
      session = await startLabSession(plan, pino({ level: 'silent' }), {
        NETMATRIX_CONTINUOUS: 'true',
        NETMATRIX_TEST_DURATION_SECONDS: '1',
        NETMATRIX_ROUND_PAUSE_MS: '100',
        NETMATRIX_UDP_BITRATE_BITS_PER_SECOND: '200000000',
        NETMATRIX_IDLE_SAMPLE_MS: '0',
        // A latency round after every throughput round, of 1 s tests (sockperf adds about 2.3 s of
        // warm-up and tail to each): both matrices fill in about the same time.
        NETMATRIX_LATENCY_ROUNDS: '1',
        NETMATRIX_LATENCY_DURATION_SECONDS: '1',
        NETMATRIX_LATENCY_CONNECT_SAMPLES: '5',
      });
      browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
      page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
      page.on('response', (r) => {
        if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
      });
      const res = await page.goto(`${session.url}/`);
      expect(res?.status()).toBe(200);
      expect(res?.headers()['content-security-policy']).toContain("default-src 'self'");
    }, 120_000);

    afterAll(async () => {
      if (rejecting) for (const rule of rejects) await exec(['ip', 'netns', 'exec', node2Pod, 'iptables', '-D', ...rule]);
      // The browser first: its polling would fail once the aggregator is gone.
      await browser?.close();
      await session?.stop();
    });

    it('lists the six agents with their nodes, modes, IPs and sockperf, and the recent tests of both kinds', async () => {
      const agents = page.locator('[data-testid="agents"] tbody tr');
      await waitFor(async () => (await agents.count()) === 6, 20_000, 'six agent rows');
      const rows = await agents.evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
      expect(rows.map((r) => `${r[0]} ${r[2]}`)).toEqual(['node1 host', 'node1 pod', 'node2 host', 'node2 pod', 'node3 host', 'node3 pod']);
      for (const r of rows) expect(r[4]).toMatch(/^198\.1[89]\.\d+\.\d+$/);
      // Every lab agent found sockperf (it inherits this process's PATH): all of them take latency tests.
      for (const r of rows) expect(r[7], `sockperf of ${r[0]} ${r[2]}`).toMatch(/^\d+\.\d+/);
      const recent = page.locator('[data-testid="recent"] tbody tr');
      await waitFor(async () => (await recent.count()) > 0, 30_000, 'a recent test');
      expect(await recent.first().textContent()).toMatch(/(throughput|latency)(node|pod|service)(tcp|udp)node\d → node\d/);
      // A latency test's row gives its median round trip where a throughput test's gives Gbit/s.
      const latencyRow = page.locator('[data-testid="recent"] tbody tr[data-kind="latency"][data-ok="true"]').first();
      await waitFor(async () => (await latencyRow.count()) > 0, 30_000, 'a successful latency test in the recent list');
      const cells = await latencyRow.locator('td').allTextContents();
      expect(cells[1]).toBe('latency');
      expect(cells[5]).toMatch(/^\d+(\.\d+)? (µs|ms) p50 RTT$/);
      const throughputRow = page.locator('[data-testid="recent"] tbody tr[data-kind="throughput"][data-ok="true"]').first();
      await waitFor(async () => (await throughputRow.count()) > 0, 30_000, 'a successful throughput test in the recent list');
      expect((await throughputRow.locator('td').allTextContents())[5]).toMatch(/^\d+\.\d\d Gbit\/s$/);
      expect(problems).toEqual([]);
    }, 70_000);

    it('draws six rendered cells in each of the 3 paths x 2 protocols heatmaps of both views once every pair has a result', async () => {
      const want = PATHS.flatMap((p) => PROTOCOLS.map((q) => `${p}-${q}`));
      // One round of each kind at a time, 36 of each: about 4.5 s per throughput and latency round pair.
      for (const view of ['heatmap', 'rtt'] as const) {
        const last = await waitFor(
          async () => {
            const d = await drawn(view);
            return d.length === want.length && d.every((x) => x.cells === 6) ? d : undefined;
          },
          240_000,
          `all six ${view} heatmaps with 3 x 2 = 6 rendered cells`,
          500,
        ).catch(async (e: unknown) => {
          const m = await matrix();
          throw new Error(
            `${String(e)}; drawn: ${JSON.stringify(await drawn(view))}; API: ${m.cells.length} throughput cells, ${m.latency.length} latency cells`,
          );
        });
        expect(last.map((d) => d.key).sort()).toEqual([...want].sort());
      }
      // The legends say what the colour means.
      expect(await page.locator('[data-testid="heatmap-node-tcp"] svg').textContent()).toContain('Gbit/s');
      expect(await page.locator('[data-testid="rtt-node-tcp"] svg').textContent()).toContain('round trip p50');
      expect(await page.locator('[data-testid="rtt-node-tcp"] h3').textContent()).toContain('round trip');
      expect(problems).toEqual([]);
    }, 500_000);

    it('shows the p50 round trip in each latency cell, and the p99 after the switch', async () => {
      /** Every figure drawn in the round-trip view is the percentile `pct` its tooltip gives. */
      const showing = async (pct: 'p50' | 'p99') => {
        const figures = (await drawn('rtt')).flatMap((d) => d.figures.filter((f) => f.text !== '✕'));
        const mismatched = figures.filter((f) => !f.label.includes(`round trip ${pct}: ${f.text};`));
        return figures.length > 0 && mismatched.length === 0 ? figures : undefined;
      };
      const p50 = await waitFor(() => showing('p50'), 10_000, 'the p50 figures');
      for (const f of p50) expect(f.text).toMatch(/^\d+(\.\d+)? (µs|ms)$/);
      await page.locator('[data-testid="rtt-switch"] input[value="p99"]').check();
      await waitFor(() => showing('p99'), 10_000, 'the p99 figures after the switch');
      expect(await page.locator('[data-testid="rtt-node-tcp"] svg').textContent()).toContain('round trip p99');
      expect((await drawn('rtt')).every((d) => d.cells === 6)).toBe(true);
      await page.locator('[data-testid="rtt-switch"] input[value="p50"]').check();
      await waitFor(() => showing('p50'), 10_000, 'the p50 figures again');
      expect(problems).toEqual([]);
    }, 40_000);

    it('updates live: new results and a new "updated" time appear without a reload', async () => {
      await page.evaluate("window.netmatrixTestMarker = 'same document'");
      const firstRow = () => page.locator('[data-testid="recent"] tbody tr').first().getAttribute('data-id');
      const updated = () => page.locator('[data-testid="updated"]').getAttribute('data-at');
      const [row0, at0] = [await firstRow(), await updated()];
      await waitFor(async () => (await firstRow()) !== row0 && (await updated()) !== at0, 30_000, 'a new recent test and update time', 200);
      expect(await page.evaluate('window.netmatrixTestMarker')).toBe('same document');
    }, 40_000);

    it("shows a running on-demand run's progress: done/total and the current pair", async () => {
      const id = await startRun('page');
      const progress = page.locator('[data-testid="run-progress"] .run[data-label="page"]');
      const seen = await waitFor(
        async () => {
          if ((await progress.count()) === 0 || (await progress.getAttribute('data-status')) !== 'running') return undefined;
          const text = (await progress.textContent()) ?? '';
          return /\d\/6 tests done, \d failed · now throughput pod tcp node\d → node\d/.test(text) ? text : undefined;
        },
        30_000,
        'the running run with its progress',
        100,
      );
      expect(seen).toContain('run "page"');
      expect(await progress.locator('progress').getAttribute('max')).toBe('6');
      await runDone(id);
      await waitFor(async () => (await progress.getAttribute('data-status')) === 'done', 10_000, 'the page to show the run done');
      expect(await progress.textContent()).toContain('6/6 tests done');
    }, 90_000);

    it('marks exactly the pairs whose latest test failed, in both views, with the reason in the tooltip', async () => {
      for (const rule of rejects) await execChecked(['ip', 'netns', 'exec', node2Pod, 'iptables', '-I', ...rule]);
      rejecting = true;
      await runDone(await startRun('reject', ['throughput', 'latency'], ['tcp', 'udp']));
      // The run measured pod tcp and udp, both kinds: every pair into node2 failed. TCP was refused;
      // iperf3's UDP test too (its control connection is TCP); sockperf's UDP requests met ICMP
      // port-unreachable (its code is whatever the agent made of that: asserted only as a failure).
      const m = await matrix();
      const failedInto = (cells: MatrixCell[], protocol: string) =>
        cells
          .filter((c) => c.path === 'pod' && c.protocol === protocol && !c.ok)
          .map((c) => `${c.source}->${c.target}`)
          .sort();
      expect(
        m.cells
          .filter((c) => c.path === 'pod' && c.protocol === 'tcp' && !c.ok)
          .map((c) => `${c.source}->${c.target} ${c.error?.code}`)
          .sort(),
      ).toEqual(['node1->node2 connection-refused', 'node3->node2 connection-refused']);
      expect(
        m.latency
          .filter((c) => c.path === 'pod' && c.protocol === 'tcp' && !c.ok)
          .map((c) => `${c.source}->${c.target} ${c.error?.code}`)
          .sort(),
      ).toEqual(['node1->node2 connection-refused', 'node3->node2 connection-refused']);
      expect(failedInto(m.latency, 'udp')).toEqual(['node1->node2', 'node3->node2']);
      expect(failedInto(m.cells, 'udp')).toEqual(['node1->node2', 'node3->node2']);
      // The background sweep goes on meanwhile (and its service tests into node2 fail too): compare
      // each view with the API's failed cells of its kind.
      const marked = await waitFor(
        async () => {
          const now = await matrix();
          const [tp, rtt] = [await drawn('heatmap'), await drawn('rtt')];
          const same =
            JSON.stringify(markedKeys(tp)) === JSON.stringify(failedKeys(now.cells)) &&
            JSON.stringify(markedKeys(rtt)) === JSON.stringify(failedKeys(now.latency));
          return same && markedKeys(tp).includes('pod-tcp node1->node2') && markedKeys(rtt).includes('pod-udp node1->node2')
            ? { tp, rtt }
            : undefined;
        },
        20_000,
        'the page to mark the failed cells the API reports, in both views',
        250,
      );
      const podTcp = marked.tp.find((d) => d.key === 'pod-tcp');
      expect(podTcp?.failed.map((f) => f.pair).sort()).toEqual(['node1->node2', 'node3->node2']);
      for (const f of podTcp?.failed ?? []) expect(f.label).toContain('FAILED connection-refused');
      expect(podTcp?.cells).toBe(6);
      for (const key of ['pod-tcp', 'pod-udp']) {
        const rtt = marked.rtt.find((d) => d.key === key);
        expect(rtt?.failed.map((f) => f.pair).sort(), key).toEqual(['node1->node2', 'node3->node2']);
        for (const f of rtt?.failed ?? [])
          expect(f.label).toMatch(key === 'pod-tcp' ? /latest test: FAILED connection-refused: / : /latest test: FAILED \S+: /);
        expect(rtt?.cells).toBe(6);
        // The pairs that worked still show their figures.
        expect(rtt?.figures.filter((f) => f.text !== '✕')).toHaveLength(4);
      }
      // The screenshot (the README's picture) with the run that found them shown finished.
      const run = page.locator('[data-testid="run-progress"] .run[data-label="reject"]');
      await waitFor(async () => (await run.getAttribute('data-status')) === 'done', 10_000, 'the page to show the reject run done');
      await mkdir('test-artifacts', { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });

      // Accepted again: the next run clears those marks, live, in both views.
      for (const rule of rejects) await execChecked(['ip', 'netns', 'exec', node2Pod, 'iptables', '-D', ...rule]);
      rejecting = false;
      await runDone(await startRun('accept', ['throughput', 'latency']));
      await waitFor(
        async () =>
          (await drawn('heatmap')).find((d) => d.key === 'pod-tcp')?.failed.length === 0 &&
          (await drawn('rtt')).find((d) => d.key === 'pod-tcp')?.failed.length === 0,
        10_000,
        'the pod/tcp failed marks to clear in both views',
        250,
      );
      expect(problems).toEqual([]);
    }, 240_000);
  },
);
