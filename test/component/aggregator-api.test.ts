/**
 * The REST API through fastify's `inject` (no listener): status codes, messages that say
 * what is wrong, the token on writes, and the shapes the page and Grafana rely on. The
 * background sweep is off, so nothing runs.
 */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAggregator, type Aggregator } from '../../aggregator/app.js';
import { loadAggregatorConfig } from '../../aggregator/config.js';

const TOKEN = 'api-test-token';
const auth = { authorization: `Bearer ${TOKEN}` };

let agg: Aggregator;

beforeAll(async () => {
  const config = loadAggregatorConfig({ NETMATRIX_TOKEN: TOKEN, NETMATRIX_CONTINUOUS: 'false' }, []);
  agg = await buildAggregator({ config, log: pino({ level: 'silent' }) });
  await agg.app.ready();
});

afterAll(async () => {
  await agg.close();
});

interface ErrorBody {
  error: string;
  message: string;
}

describe('GET /healthz', () => {
  it('answers 200 ok', async () => {
    const res = await agg.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ok: true });
  });
});

describe('GET /api/results', () => {
  it('returns an empty list before any test ran', async () => {
    const res = await agg.app.inject({ method: 'GET', url: '/api/results?limit=5' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual([]);
  });

  it.each(['limit=0', 'limit=abc', 'limit=100001', 'limit=1.5', 'limit=-1'])('answers 400 naming `limit` for ?%s', async (query) => {
    const res = await agg.app.inject({ method: 'GET', url: `/api/results?${query}` });
    expect(res.statusCode).toBe(400);
    const body = res.json<ErrorBody>();
    expect(body.error).toBe('bad-request');
    expect(body.message).toMatch(/^limit: /);
  });

  it('answers 400 for an unknown query parameter', async () => {
    const res = await agg.app.inject({ method: 'GET', url: '/api/results?limt=5' });
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>().message).toMatch(/limt/);
  });
});

describe('POST /api/runs', () => {
  const post = (payload: unknown, headers: Record<string, string> = auth) =>
    agg.app.inject({ method: 'POST', url: '/api/runs', headers, payload: payload as object });

  it('answers 401 without the token', async () => {
    const res = await post({ label: 'iptables' }, {});
    expect(res.statusCode).toBe(401);
    expect(res.json<ErrorBody>()).toEqual({ error: 'unauthorized', message: 'POST /api/runs needs the bearer token' });
  });

  it('checks the token before parsing the body: no token and a broken body is still 401', async () => {
    const res = await agg.app.inject({
      method: 'POST',
      url: '/api/runs',
      headers: { 'content-type': 'application/json' },
      payload: '{not json',
    });
    expect(res.statusCode).toBe(401);
  });

  it('answers 401 with a wrong token or a non-Bearer scheme', async () => {
    expect((await post({ label: 'iptables' }, { authorization: 'Bearer nope' })).statusCode).toBe(401);
    expect((await post({ label: 'iptables' }, { authorization: `Basic ${TOKEN}` })).statusCode).toBe(401);
    expect((await post({ label: 'iptables' }, { authorization: TOKEN })).statusCode).toBe(401);
  });

  it.each([
    ['a missing label', {}, /^label: /],
    ['a label with spaces', { label: 'calico ebpf' }, /^label: letters, digits, dot, dash, underscore/],
    ['an empty label', { label: '' }, /^label: /],
    ['a label starting with a dash', { label: '-x' }, /^label: /],
    ['an unknown path', { label: 'x', paths: ['bogus'] }, /^paths\.0: .*"node"\|"pod"\|"service"/],
    ['no paths', { label: 'x', paths: [] }, /^paths: /],
    ['durationSeconds 0', { label: 'x', durationSeconds: 0 }, /^durationSeconds: .*>=1/],
    ['a fractional duration', { label: 'x', durationSeconds: 1.5 }, /^durationSeconds: /],
    ['streams as a string', { label: 'x', streams: '4' }, /^streams: /],
    ['an extra field', { label: 'x', shell: 'rm -rf /' }, /shell/],
    ['an array body', ['x'], /expected object/],
  ])('answers 400 with a clear message for %s', async (_what, body, message) => {
    const res = await post(body);
    expect(res.statusCode).toBe(400);
    const json = res.json<ErrorBody>();
    expect(json.error).toBe('bad-request');
    expect(json.message).toMatch(message);
  });

  it('answers 400 for a body that is not JSON', async () => {
    const res = await agg.app.inject({
      method: 'POST',
      url: '/api/runs',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: '{"label": "x",',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ message: string }>().message).toMatch(/JSON/);
  });

  it('answers 400 for a plain-text body', async () => {
    const res = await agg.app.inject({
      method: 'POST',
      url: '/api/runs',
      headers: { ...auth, 'content-type': 'text/plain' },
      payload: 'label=x',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>().message).toMatch(/expected object/);
  });

  it('answers 400 for no body at all', async () => {
    const res = await agg.app.inject({ method: 'POST', url: '/api/runs', headers: auth });
    expect(res.statusCode).toBe(400);
  });

  it('accepts a valid run with 202 and an id, then reports it by id', async () => {
    const res = await post({ label: 'ebpf-dsr', paths: ['pod', 'service'], protocols: ['tcp'], durationSeconds: 2, streams: 2 });
    expect(res.statusCode).toBe(202);
    const run = res.json<{ id: string; label: string; status: string }>();
    expect(run.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(run).toMatchObject({
      label: 'ebpf-dsr',
      status: 'queued',
      spec: { paths: ['pod', 'service'], durationSeconds: 2, streams: 2, repeat: 1 },
    });

    const got = await agg.app.inject({ method: 'GET', url: `/api/runs/${run.id}` });
    expect(got.statusCode).toBe(200);
    expect(got.json()).toMatchObject({ id: run.id, label: 'ebpf-dsr', status: 'queued', results: [] });

    const all = await agg.app.inject({ method: 'GET', url: '/api/runs' });
    expect(all.json<{ id: string }[]>().map((r) => r.id)).toContain(run.id);
  });

  it("fills a run's paths, protocols, duration and UDP cap from the configuration, and omits 1 s", async () => {
    const res = await post({ label: 'defaults' });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({
      spec: {
        paths: ['node', 'pod', 'service'],
        protocols: ['tcp', 'udp'],
        durationSeconds: 10,
        repeat: 1,
        udpBitrateBitsPerSecond: 1_000_000_000,
        omitSeconds: 1,
      },
    });
  });

  it('accepts unlimited UDP (0) and the omit asked for, 0 included', async () => {
    for (const omitSeconds of [0, 60]) {
      const res = await post({ label: `max-${omitSeconds}`, udpBitrateBitsPerSecond: 0, omitSeconds });
      expect(res.statusCode, res.body).toBe(202);
      expect(res.json()).toMatchObject({ spec: { udpBitrateBitsPerSecond: 0, omitSeconds } });
    }
  });
});

describe('GET /api/runs/:id', () => {
  it('answers 400 for an id that is not a UUID', async () => {
    const res = await agg.app.inject({ method: 'GET', url: '/api/runs/not-a-uuid' });
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>()).toMatchObject({ error: 'bad-request', message: expect.stringMatching(/^run id: /) });
  });

  it('answers 404 for an unknown UUID', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    const res = await agg.app.inject({ method: 'GET', url: `/api/runs/${id}` });
    expect(res.statusCode).toBe(404);
    expect(res.json<ErrorBody>()).toEqual({ error: 'not-found', message: `no run ${id}` });
  });
});

describe('GET /metrics', () => {
  it("serves Prometheus text with prom-client's content type", async () => {
    const res = await agg.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(new Registry().contentType);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toContain('# TYPE netmatrix_agents_connected gauge');
    expect(res.body).toMatch(/^netmatrix_agents_connected\{mode="pod"\} 0$/m);
    expect(res.body).toMatch(/^netmatrix_agents_connected\{mode="host"\} 0$/m);
  });

  it("uses its own registry, not prom-client's global one", async () => {
    const res = await agg.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.body).not.toContain('process_cpu_seconds_total');
  });
});

describe('GET /api/matrix and /api/agents', () => {
  it('has nodes and cells, empty with no agents', async () => {
    const res = await agg.app.inject({ method: 'GET', url: '/api/matrix' });
    expect(res.statusCode).toBe(200);
    const m = res.json<{ generatedAt: string; nodes: unknown[]; cells: unknown[] }>();
    expect(m.nodes).toEqual([]);
    expect(m.cells).toEqual([]);
    expect(Number.isNaN(Date.parse(m.generatedAt))).toBe(false);
  });

  it('lists no agents', async () => {
    const res = await agg.app.inject({ method: 'GET', url: '/api/agents' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual([]);
  });
});
