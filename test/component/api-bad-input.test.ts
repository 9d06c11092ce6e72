/**
 * Bad input to the REST API through fastify's `inject`: every endpoint answers malformed
 * parameters and bodies with a 400 whose message names the problem (413 for a body over the
 * limit), never a 500 and never a silent default; POST /api/runs keeps its token check first
 * and is rate-limited (429 with Retry-After) without spending the budget on refused requests.
 */
import fastify from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentRegistry } from '../../aggregator/agents.js';
import { registerApi, RUNS_PER_WINDOW, RUNS_WINDOW_MS } from '../../aggregator/api.js';
import { buildAggregator, type Aggregator } from '../../aggregator/app.js';
import { loadAggregatorConfig } from '../../aggregator/config.js';
import { ResultStore } from '../../aggregator/results.js';
import type { Scheduler } from '../../aggregator/scheduler.js';

const TOKEN = 'bad-input-token';
const auth = { authorization: `Bearer ${TOKEN}` };

interface ErrorBody {
  error: string;
  message: string;
}

async function aggregator(): Promise<Aggregator> {
  const config = loadAggregatorConfig({ NETMATRIX_TOKEN: TOKEN, NETMATRIX_CONTINUOUS: 'false' }, []);
  const agg = await buildAggregator({ config, log: pino({ level: 'silent' }) });
  await agg.app.ready();
  return agg;
}

let agg: Aggregator;
beforeAll(async () => {
  agg = await aggregator();
});
afterAll(async () => {
  await agg.close();
});

const GETS = ['/healthz', '/api/agents', '/api/matrix', '/api/status', '/api/environment', '/api/runs', '/api/results'];
const RUN_ID = '00000000-0000-4000-8000-000000000000';

describe('query parameters', () => {
  it.each([...GETS, `/api/runs/${RUN_ID}`])('GET %s answers 400 naming an unknown query parameter', async (url) => {
    const res = await agg.app.inject({ method: 'GET', url: `${url}?verbose=1` });
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>()).toEqual({ error: 'bad-request', message: expect.stringMatching(/verbose/) });
  });

  it.each(GETS)('GET %s still answers 200 without parameters', async (url) => {
    expect((await agg.app.inject({ method: 'GET', url })).statusCode).toBe(200);
  });

  it('POST /api/runs answers 400 naming an unknown query parameter', async () => {
    const res = await agg.app.inject({ method: 'POST', url: '/api/runs?force=true', headers: auth, payload: { label: 'x' } });
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>().message).toMatch(/force/);
  });

  it.each([
    ['empty', 'limit='],
    ['hexadecimal', 'limit=0x10'],
    ['exponent', 'limit=1e3'],
    ['padded', 'limit=%205'],
    ['negative', 'limit=-5'],
    ['over the maximum', 'limit=10001'],
    ['huge', `limit=${'9'.repeat(400)}`],
    ['given twice', 'limit=5&limit=6'],
    ['NaN', 'limit=NaN'],
  ])('GET /api/results answers 400 naming limit for a %s limit', async (_what, query) => {
    const res = await agg.app.inject({ method: 'GET', url: `/api/results?${query}` });
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>()).toEqual({ error: 'bad-request', message: expect.stringMatching(/^limit: /) });
  });

  it('GET /api/results takes a plain whole limit and defaults without one', async () => {
    expect((await agg.app.inject({ method: 'GET', url: '/api/results?limit=10000' })).statusCode).toBe(200);
    expect((await agg.app.inject({ method: 'GET', url: '/api/results' })).json()).toEqual([]);
  });
});

describe('run ids', () => {
  it.each([
    ['a word', 'latest'],
    ['a UUID without dashes', '000000000000400080000000000000000'],
    ['a UUID with a suffix', `${RUN_ID}x`],
    ['an encoded path traversal', '..%2F..%2Fetc%2Fpasswd'],
    ['an encoded NUL', `${RUN_ID}%00`],
    ['shell metacharacters', '%3Brm%20-rf%20%2F'],
  ])('GET /api/runs/:id answers 400 for %s', async (_what, id) => {
    const res = await agg.app.inject({ method: 'GET', url: `/api/runs/${id}` });
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>()).toEqual({ error: 'bad-request', message: expect.stringMatching(/^run id: /) });
  });

  it("answers 414 for an id longer than the router's parameter limit (100 characters), before any handler", async () => {
    const res = await agg.app.inject({ method: 'GET', url: `/api/runs/${'a'.repeat(2000)}` });
    expect(res.statusCode).toBe(414);
    expect(res.json<{ message: string }>().message).toMatch(/max param length/);
  });
});

describe('POST /api/runs bodies', () => {
  const raw = (payload: string, contentType: string | undefined, headers: Record<string, string> = auth) =>
    agg.app.inject({
      method: 'POST',
      url: '/api/runs',
      headers: contentType === undefined ? headers : { ...headers, 'content-type': contentType },
      payload,
    });

  it.each([
    ['truncated JSON', '{"label":"x",', /JSON/],
    ['JSON with a trailing comma', '{"label":"x",}', /JSON/],
    ['an empty JSON body', '', /empty/i],
    // fastify's JSON parser refuses these outright (secure-json-parse), with its generic message.
    ['a prototype-polluting key', '{"label":"x","__proto__":{"admin":true}}', /JSON/],
    ['a constructor.prototype key', '{"label":"x","constructor":{"prototype":{"admin":true}}}', /JSON/],
  ])('answers 400 for %s', async (_what, payload, message) => {
    const res = await raw(payload, 'application/json');
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>()).toEqual({ error: 'bad-request', message: expect.stringMatching(message) });
  });

  it.each(['application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'image/png'])(
    'answers 400 naming a %s content type',
    async (type) => {
      const res = await raw('label=x', type);
      expect(res.statusCode).toBe(400);
      expect(res.json<ErrorBody>()).toEqual({ error: 'bad-request', message: expect.stringMatching(/content type .* application\/json/) });
    },
  );

  it('answers 400 for JSON sent as text/plain (a string is not an object)', async () => {
    const res = await raw('{"label":"x"}', 'text/plain');
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>().message).toMatch(/expected object/);
  });

  it.each([
    ['a huge number', '{"label":"x","durationSeconds":1e999}', /^durationSeconds: /],
    ['a 400-digit number', `{"label":"x","streams":${'9'.repeat(400)}}`, /^streams: /],
    ['a negative bitrate', '{"label":"x","tcpBitrateBitsPerSecond":-1}', /^tcpBitrateBitsPerSecond: /],
    [
      'a negative UDP bitrate',
      '{"label":"x","udpBitrateBitsPerSecond":-1}',
      /^udpBitrateBitsPerSecond: Too small: expected number to be >=0/,
    ],
    ['a fractional UDP bitrate', '{"label":"x","udpBitrateBitsPerSecond":1.5}', /^udpBitrateBitsPerSecond: .*int/],
    [
      '"max" as a UDP bitrate (the CLI word, not the API value)',
      '{"label":"x","udpBitrateBitsPerSecond":"max"}',
      /^udpBitrateBitsPerSecond: /,
    ],
    ['a negative omit', '{"label":"x","omitSeconds":-1}', /^omitSeconds: Too small: expected number to be >=0/],
    ['an omit over 60 s', '{"label":"x","omitSeconds":61}', /^omitSeconds: Too big: expected number to be <=60/],
    ['a fractional omit', '{"label":"x","omitSeconds":0.5}', /^omitSeconds: .*int/],
    ['an omit as a string', '{"label":"x","omitSeconds":"1"}', /^omitSeconds: .*expected number/],
    ['repeat over 100', '{"label":"x","repeat":101}', /^repeat: /],
    ['a boolean label', '{"label":true}', /^label: /],
    ['a null label', '{"label":null}', /^label: /],
    ['a label of 64 characters', `{"label":"${'a'.repeat(64)}"}`, /^label: /],
    ['a label with a newline', '{"label":"a\\nb"}', /^label: /],
    ['a label with shell metacharacters', '{"label":"x;rm -rf /"}', /^label: /],
    ['paths as a string', '{"label":"x","paths":"pod"}', /^paths: /],
    ['protocols with a duplicate-free unknown', '{"label":"x","protocols":["sctp"]}', /^protocols\.0: /],
    ['too many paths', '{"label":"x","paths":["pod","pod","pod","pod"]}', /^paths: /],
    ['a nested object for streams', '{"label":"x","streams":{"n":1}}', /^streams: /],
    ['a JSON string body', '"x"', /expected object/],
    ['a JSON number body', '42', /expected object/],
    ['a JSON null body', 'null', /expected object/],
  ])('answers 400 naming the field for %s', async (_what, payload, message) => {
    const res = await raw(payload, 'application/json');
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>()).toEqual({ error: 'bad-request', message: expect.stringMatching(message) });
  });

  it('answers 400 for deeply nested JSON', async () => {
    const res = await raw(`{"label":"x","paths":${'['.repeat(5000)}${']'.repeat(5000)}}`, 'application/json');
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>().message).toMatch(/^paths/);
  });

  it('answers 413 for a body over the limit, before parsing it', async () => {
    const res = await raw(`{"label":"${'x'.repeat(100 * 1024)}"}`, 'application/json');
    expect(res.statusCode).toBe(413);
    expect(res.json<ErrorBody>()).toEqual({ error: 'payload-too-large', message: expect.stringMatching(/body/i) });
  });

  it('answers 401, not 400 or 413, to a bad body without the token', async () => {
    expect((await raw('{"label":', 'application/json', {})).statusCode).toBe(401);
    expect((await raw(`{"label":"${'x'.repeat(100 * 1024)}"}`, 'application/json', {})).statusCode).toBe(401);
    expect((await raw('label=x', 'application/xml', {})).statusCode).toBe(401);
  });
});

describe('POST /api/runs rate limit', () => {
  it(`accepts ${RUNS_PER_WINDOW} runs, then answers 429 with Retry-After; refused requests spend nothing`, async () => {
    const own = await aggregator();
    try {
      const post = (payload: unknown, headers: Record<string, string> = auth) =>
        own.app.inject({ method: 'POST', url: '/api/runs', headers, payload: payload as object });
      // Bad bodies and bad tokens first: none of them may count against the budget.
      for (let i = 0; i < 20; i++) {
        expect((await post({ label: '' })).statusCode).toBe(400);
        expect((await post({ label: 'x' }, { authorization: 'Bearer nope' })).statusCode).toBe(401);
      }
      for (let i = 0; i < RUNS_PER_WINDOW; i++) expect((await post({ label: `run-${i}` })).statusCode).toBe(202);

      const limited = await post({ label: 'one-too-many' });
      expect(limited.statusCode).toBe(429);
      expect(limited.json<ErrorBody>()).toEqual({ error: 'too-many-requests', message: expect.stringMatching(/at most 10 runs per 60 s/) });
      const retryAfter = Number(limited.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(RUNS_WINDOW_MS / 1000);
      // The token is still checked first, and a limited caller is told so whatever its body.
      expect((await post({ label: 'x' }, {})).statusCode).toBe(401);
      expect((await post({ label: '' })).statusCode).toBe(429);
      expect((await own.app.inject({ method: 'GET', url: '/api/runs' })).json<unknown[]>()).toHaveLength(RUNS_PER_WINDOW);
    } finally {
      await own.close();
    }
  });

  it('accepts runs again once the oldest leaves the window (clock injected)', async () => {
    let now = 5_000_000;
    let submitted = 0;
    const app = fastify({ bodyLimit: 64 * 1024 });
    registerApi(app, {
      token: TOKEN,
      agents: new AgentRegistry(),
      store: new ResultStore(10),
      // Only submit is reached by POST /api/runs.
      scheduler: { submit: () => ({ id: `run-${++submitted}` }) } as unknown as Scheduler,
      metrics: { contentType: 'text/plain', chunks: () => Promise.reject(new Error('unused')) },
      environment: () => Promise.reject(new Error('unused')),
      status: () => ({}),
      topology: () => null,
      now: () => now,
    });
    await app.ready();
    try {
      const post = () => app.inject({ method: 'POST', url: '/api/runs', headers: auth, payload: { label: 'x' } });
      expect((await post()).statusCode).toBe(202);
      now += 30_000;
      for (let i = 1; i < RUNS_PER_WINDOW; i++) expect((await post()).statusCode).toBe(202);
      const limited = await post();
      expect(limited.statusCode).toBe(429);
      expect(limited.headers['retry-after']).toBe('30');
      now += 30_000;
      expect((await post()).statusCode).toBe(202);
      expect((await post()).statusCode).toBe(429);
      expect(submitted).toBe(RUNS_PER_WINDOW + 1);
    } finally {
      await app.close();
    }
  });
});
