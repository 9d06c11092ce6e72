/**
 * The live page in a real browser (Debian's Chromium driven by playwright-core) against a real
 * 3-node lab with a quick background sweep: what a user sees is what was rendered, it updates
 * without a reload, shows an on-demand run's progress, and marks exactly the pairs whose
 * latest test failed (made to fail for real with an iptables REJECT in one pod's namespace).
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
}

/**
 * Runs in the page (a string: this project's TypeScript has no DOM types). The tooltip text
 * vega puts into each mark's aria-label names the pair.
 */
const DRAWN = `[...document.querySelectorAll('[data-testid^="heatmap-"]')].map((panel) => ({
  key: panel.dataset.testid.replace('heatmap-', ''),
  cells: panel.querySelectorAll('svg g.cells_marks > path').length,
  failed: [...panel.querySelectorAll('svg g.failed_marks > path')].map((p) => {
    const label = p.getAttribute('aria-label') || '';
    const m = /pair: (\\S+) → (\\S+);/.exec(label);
    return { pair: m ? m[1] + '->' + m[2] : '?', label };
  }),
}))`;

interface MatrixCell {
  path: string;
  protocol: string;
  source: string;
  target: string;
  ok: boolean;
  error: { code: string } | null;
}

describeWith({ root: true, binaries: ['ip', 'iptables', 'iperf3', 'chromium'] }, 'the live matrix page in Chromium on a 3-node lab', () => {
  const plan = planLab(3);
  const node2Pod = plan.nodes[1]?.podNetns ?? 'nm-pod2';
  const reject = ['INPUT', '-p', 'tcp', '--dport', '5201', '-j', 'REJECT', '--reject-with', 'tcp-reset'];
  let session: LabSession;
  let browser: Browser;
  let page: Page;
  let rejecting = false;
  const problems: string[] = [];

  const drawn = (): Promise<Drawn[]> => page.evaluate<Drawn[]>(DRAWN);
  const matrix = async (): Promise<MatrixCell[]> =>
    ((await (await fetch(`${session.url}/api/matrix`)).json()) as { cells: MatrixCell[] }).cells;
  const startRun = async (label: string) => {
    const res = await fetch(`${session.url}/api/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${session.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ label, paths: ['pod'], protocols: ['tcp'], durationSeconds: 1 }),
    });
    expect(res.status).toBe(202);
    return ((await res.json()) as { id: string }).id;
  };
  const runDone = (id: string) =>
    waitFor(
      async () => ((await (await fetch(`${session.url}/api/runs/${id}`)).json()) as { status: string }).status === 'done',
      60_000,
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
    if (rejecting) await exec(['ip', 'netns', 'exec', node2Pod, 'iptables', '-D', ...reject]);
    // The browser first: its polling would fail once the aggregator is gone.
    await browser?.close();
    await session?.stop();
  });

  it('lists the six agents with their nodes, modes and IPs, and the recent tests', async () => {
    const agents = page.locator('[data-testid="agents"] tbody tr');
    await waitFor(async () => (await agents.count()) === 6, 20_000, 'six agent rows');
    const rows = await agents.evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(rows.map((r) => `${r[0]} ${r[2]}`)).toEqual(['node1 host', 'node1 pod', 'node2 host', 'node2 pod', 'node3 host', 'node3 pod']);
    for (const r of rows) expect(r[4]).toMatch(/^198\.1[89]\.\d+\.\d+$/);
    await waitFor(async () => (await page.locator('[data-testid="recent"] tbody tr').count()) > 0, 30_000, 'a recent test');
    expect(await page.locator('[data-testid="recent"] tbody tr').first().textContent()).toMatch(
      /(node|pod|service)(tcp|udp)node\d → node\d/,
    );
    expect(problems).toEqual([]);
  }, 40_000);

  it('draws six rendered cells in each of the 3 paths x 2 protocols heatmaps once every pair has a result', async () => {
    const want = PATHS.flatMap((p) => PROTOCOLS.map((q) => `${p}-${q}`));
    const last = await waitFor(
      async () => {
        const d = await drawn();
        return d.length === want.length && d.every((x) => x.cells === 6) ? d : undefined;
      },
      150_000,
      'all six heatmaps with 3 x 2 = 6 rendered cells',
      500,
    ).catch(async (e: unknown) => {
      throw new Error(`${String(e)}; drawn: ${JSON.stringify(await drawn())}`);
    });
    expect(last.map((d) => d.key).sort()).toEqual([...want].sort());
    // The legend says what the colour means.
    expect(await page.locator('[data-testid="heatmap-node-tcp"] svg').textContent()).toContain('Gbit/s');
    expect(problems).toEqual([]);
  }, 160_000);

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
        return /\d\/6 tests done, \d failed · now pod tcp node\d → node\d/.test(text) ? text : undefined;
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

  it('marks exactly the pairs whose latest test failed, with the reason in the tooltip', async () => {
    await execChecked(['ip', 'netns', 'exec', node2Pod, 'iptables', '-I', ...reject]);
    rejecting = true;
    await runDone(await startRun('reject'));
    // The run measured pod/tcp: both pairs into node2 failed, refused.
    const cells = await matrix();
    const podTcpFailed = cells.filter((c) => c.path === 'pod' && c.protocol === 'tcp' && !c.ok);
    expect(podTcpFailed.map((c) => `${c.source}->${c.target} ${c.error?.code}`).sort()).toEqual([
      'node1->node2 connection-refused',
      'node3->node2 connection-refused',
    ]);
    // The background sweep goes on meanwhile (and its pod UDP and service tests into node2 fail too:
    // iperf3's control connection is TCP 5201): compare the page with the API's failed cells.
    const marked = await waitFor(
      async () => {
        const want = (await matrix())
          .filter((c) => !c.ok)
          .map((c) => `${c.path}-${c.protocol} ${c.source}->${c.target}`)
          .sort();
        const d = await drawn();
        const got = d.flatMap((x) => x.failed.map((f) => `${x.key} ${f.pair}`)).sort();
        return JSON.stringify(got) === JSON.stringify(want) && got.includes('pod-tcp node1->node2') ? d : undefined;
      },
      20_000,
      'the page to mark the failed cells the API reports',
      250,
    );
    const podTcp = marked.find((d) => d.key === 'pod-tcp');
    expect(podTcp?.failed.map((f) => f.pair).sort()).toEqual(['node1->node2', 'node3->node2']);
    for (const f of podTcp?.failed ?? []) expect(f.label).toContain('FAILED connection-refused');
    expect(podTcp?.cells).toBe(6);
    await mkdir('test-artifacts', { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // Accepted again: the next run clears those marks, live.
    await execChecked(['ip', 'netns', 'exec', node2Pod, 'iptables', '-D', ...reject]);
    rejecting = false;
    await runDone(await startRun('accept'));
    await waitFor(
      async () => (await drawn()).find((d) => d.key === 'pod-tcp')?.failed.length === 0,
      10_000,
      'the pod/tcp failed marks to clear',
      250,
    );
    expect(problems).toEqual([]);
  }, 150_000);
});
