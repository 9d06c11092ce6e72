/**
 * The live page's HTTP side through `inject`: the page and its allowlisted assets with their
 * content types and CSP, no token needed, and nothing else reachable (unknown assets and
 * traversal attempts are 404s). The browser side is test/integration/page.test.ts.
 */
import { readFile } from 'node:fs/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAggregator, type Aggregator } from '../../aggregator/app.js';
import { loadAggregatorConfig } from '../../aggregator/config.js';
import { CONTENT_SECURITY_POLICY } from '../../aggregator/page.js';

let agg: Aggregator;

beforeAll(async () => {
  const config = loadAggregatorConfig({ NETMATRIX_TOKEN: 'page-test-token', NETMATRIX_CONTINUOUS: 'false' }, []);
  agg = await buildAggregator({ config, log: pino({ level: 'silent' }) });
  await agg.app.ready();
});

afterAll(async () => {
  await agg.close();
});

const get = (url: string) => agg.app.inject({ method: 'GET', url });

describe('GET /', () => {
  it('answers the page as HTML without a token, with a CSP that allows scripts only from this origin', async () => {
    const res = await get('/');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.body).toMatch(/^<!doctype html>/i);
    expect(res.body).toContain('<script src="/assets/vega.min.js"');
    expect(res.body).toContain('<script src="/assets/page.js"');
    // In the order they need each other: vega, vega-lite, then the page's heatmaps, its round-trip view, its loop.
    const scripts = [...res.body.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]);
    expect(scripts).toEqual([
      '/assets/vega.min.js',
      '/assets/vega-lite.min.js',
      '/assets/heatmap.js',
      '/assets/latency.js',
      '/assets/page.js',
    ]);
    // No inline script: every <script> has a src.
    expect(res.body.match(/<script(?![^>]*\bsrc=)[^>]*>/g)).toBeNull();
    expect(res.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).toContain("default-src 'self'");
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self' 'unsafe-eval'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it('answers HEAD / too (fastify adds HEAD for GET routes)', async () => {
    const res = await agg.app.inject({ method: 'HEAD', url: '/' });
    expect(res.statusCode).toBe(200);
  });
});

describe('page assets', () => {
  it.each([
    ['/assets/page.js', 'text/javascript; charset=utf-8', 'aggregator/page/page.js'],
    ['/assets/heatmap.js', 'text/javascript; charset=utf-8', 'aggregator/page/heatmap.js'],
    ['/assets/latency.js', 'text/javascript; charset=utf-8', 'aggregator/page/latency.js'],
    ['/assets/page.css', 'text/css; charset=utf-8', 'aggregator/page/page.css'],
    ['/assets/favicon.svg', 'image/svg+xml', 'aggregator/page/favicon.svg'],
    ['/assets/vega.min.js', 'text/javascript; charset=utf-8', 'node_modules/vega/build/vega.min.js'],
    ['/assets/vega-lite.min.js', 'text/javascript; charset=utf-8', 'node_modules/vega-lite/build/vega-lite.min.js'],
  ])('serves %s as %s, byte for byte', async (url, type, file) => {
    const res = await get(url);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(type);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.rawPayload.equals(await readFile(file))).toBe(true);
  });

  it('serves the UMD builds that define the globals the page uses', async () => {
    expect((await get('/assets/vega.min.js')).body.slice(0, 400)).toContain('.vega={}');
    expect((await get('/assets/vega-lite.min.js')).body.slice(0, 600)).toContain('vegaLite');
  });

  it.each([
    '/assets/nope.js',
    '/assets/',
    '/assets',
    '/assets/index.html',
    '/assets/../package.json',
    '/assets/..%2fpackage.json',
    '/assets/%2e%2e/%2e%2e/package.json',
    '/assets/page.js/../../../package.json',
    '/assets/vega/package.json',
    '/node_modules/vega/build/vega.min.js',
    '/aggregator/page/page.js',
    '/page.js',
    '/index.html',
    '/../package.json',
  ])('answers 404 for %s', async (url) => {
    const res = await get(url);
    expect(res.statusCode).toBe(404);
    expect(res.body).not.toContain('"name": "netmatrix"');
  });

  it('leaves the API where it was', async () => {
    expect((await get('/api/results?limit=1')).json()).toEqual([]);
    expect((await get('/healthz')).json()).toEqual({ ok: true });
  });
});
