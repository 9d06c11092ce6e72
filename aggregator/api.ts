/**
 * The REST API. Bad input gets a 400 with a message that says what is wrong (413 for a body
 * over the limit); writes (POST /api/runs) need the bearer token and are rate-limited.
 */
import { Readable } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { RunRequestSchema } from '../shared/api.js';
import type { Environment } from '../shared/environment.js';
import type { Topology } from '../shared/result.js';
import type { AgentRegistry } from './agents.js';
import { bearer, tokenMatches, WindowLimiter } from './agent-socket.js';
import type { Metrics } from './metrics.js';
import { API_THROUGHPUT_FIGURES, PAIR_FIGURES, type ApiThroughputFigures, type PairFigure } from './figures.js';
import type { CellResult, MatrixCell, ResultStore } from './results.js';
import type { Scheduler } from './scheduler.js';

export interface ApiDeps {
  token: string;
  agents: AgentRegistry;
  store: ResultStore;
  scheduler: Scheduler;
  metrics: Pick<Metrics, 'contentType' | 'chunks'>;
  /** Nodes' facts and the detected dataplane (no idle CPU: tests may be running). */
  environment: () => Promise<Environment>;
  /** The Kubernetes integration and which pod agents can be reached through a service. */
  status: () => unknown;
  /** A node's zone, region and instance type, when known. */
  topology: (node: string) => Topology | null;
  /** Clock of the run limiter, ms (a parameter so tests need not wait a minute). */
  now?: () => number;
}

/** Runs POST /api/runs accepts per RUNS_WINDOW_MS. There is one token, so one budget for all its holders. */
export const RUNS_PER_WINDOW = 10;
export const RUNS_WINDOW_MS = 60_000;

// Digits only: Number() alone would also take "0x10", " 5" and "1e3".
const LimitQuery = z.strictObject({
  limit: z
    .string()
    .regex(/^\d{1,6}$/, 'expected a whole number')
    .transform(Number)
    .pipe(z.number().int().min(1).max(10_000))
    .default(100),
});
const RunParams = z.strictObject({ id: z.uuid() });
/** Endpoints without parameters refuse any: a typo (`?limt=5`) should not pass silently. */
const NoQuery = z.strictObject({});

function problem(e: z.ZodError): string {
  return e.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

/** What every matrix cell says, of either kind: the pair, its latest outcome and when. */
function cellHead(c: MatrixCell) {
  return {
    path: c.path,
    protocol: c.protocol,
    source: c.source,
    target: c.target,
    ok: c.latest.ok,
    error: c.latest.error,
    lastTestAt: c.latest.endedAt,
    lastSuccessAt: c.lastSuccess?.endedAt ?? null,
  };
}

/** A figure of the catalogue as an /api/matrix cell serves it: in its own unit, null when the test did not carry it. */
const apiFigure = (f: PairFigure, good: CellResult | null) => (good ? (f.read(good) ?? null) : null);

/** A latency cell in the compact form the API and the page use: the latest successful test's round-trip times. */
function latencyCellView(c: MatrixCell) {
  const l = c.lastSuccess?.latency ?? null;
  return {
    ...cellHead(c),
    consecutiveFailures: c.consecutiveFailures,
    /** Full round trips, µs, of the latest successful test. */
    rttMicroseconds: l ? { min: l.min, p50: l.p50, p90: l.p90, p99: l.p99, p999: l.p999, max: l.max } : null,
    /** Requests without a reply over those sent, of either protocol; 0 when none were sent, null without a successful test. */
    droppedRatio: l ? (l.sentMessages > 0 ? l.droppedMessages / l.sentMessages : 0) : null,
    [PAIR_FIGURES.connect.api]: apiFigure(PAIR_FIGURES.connect, c.lastSuccess),
    targetAddress: c.latest.targetAddress,
  };
}

/** A matrix cell in the compact form the API and the page use; its figures are the catalogue's (aggregator/figures.ts). */
function cellView(c: MatrixCell) {
  const r = c.latest;
  const figures = {} as ApiThroughputFigures;
  for (const f of API_THROUGHPUT_FIGURES) figures[f.api] = apiFigure(f, c.lastSuccess);
  return {
    ...cellHead(c),
    ...figures,
    targetAddress: r.targetAddress,
    sourceZone: r.sourceZone,
    targetZone: r.targetZone,
    /** null when either zone is unknown. */
    crossZone: r.sourceZone && r.targetZone ? r.sourceZone !== r.targetZone : null,
    resultId: r.id,
  };
}

/**
 * fastify's own refusals (body not JSON, unsupported content type, body too large) in the API's
 * shape; an unsupported content type is bad input like any other (400, not 415).
 */
export function httpErrorHandler(e: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  const status = e.statusCode ?? 500;
  // A bug, not bad input: fastify's own handler answers it, as before.
  if (status >= 500) throw e;
  if (status === 413) return reply.code(413).send({ error: 'payload-too-large', message: e.message });
  if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    const type = req.headers['content-type'] ?? 'none';
    return reply.code(400).send({ error: 'bad-request', message: `content type ${type} is not accepted: send application/json` });
  }
  return reply.code(status === 429 ? 429 : 400).send({ error: status === 429 ? 'too-many-requests' : 'bad-request', message: e.message });
}

export function registerApi(app: FastifyInstance, d: ApiDeps): void {
  const noQuery = async (req: FastifyRequest, reply: FastifyReply) => {
    const q = NoQuery.safeParse(req.query);
    if (!q.success) return reply.code(400).send({ error: 'bad-request', message: problem(q.error) });
  };
  const runs = new WindowLimiter(RUNS_PER_WINDOW, RUNS_WINDOW_MS, d.now);

  app.get('/healthz', { preValidation: noQuery }, async () => ({ ok: true }));

  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', d.metrics.contentType);
    // Chunk by chunk: at 5,000 nodes the body is 24 MB, and one string of it would be a copy.
    return reply.send(Readable.from(await d.metrics.chunks(), { objectMode: false }));
  });

  app.get('/api/agents', { preValidation: noQuery }, async () =>
    d.agents.all().map((s) => ({ sessionId: s.id, connectedAt: s.connectedAt.toISOString(), ...s.identity })),
  );

  app.get('/api/results', async (req, reply) => {
    const q = LimitQuery.safeParse(req.query);
    if (!q.success) return reply.code(400).send({ error: 'bad-request', message: problem(q.error) });
    return d.store.latest(q.data.limit);
  });

  app.get('/api/matrix', { preValidation: noQuery }, async () => ({
    generatedAt: new Date().toISOString(),
    nodes: d.agents.nodes().map((name) => ({
      name,
      topology: d.topology(name),
      agents: d.agents.agentsOf(name).map((s) => ({ mode: s.identity.mode, pod: s.identity.podName, ip: s.identity.podIp })),
    })),
    cells: d.store.matrix('throughput').map(cellView),
    latency: d.store.matrix('latency').map(latencyCellView),
  }));

  // The token is checked before the body is parsed: a caller without it learns nothing.
  const requireToken = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!tokenMatches(bearer(req), d.token)) {
      return reply.code(401).send({ error: 'unauthorized', message: 'POST /api/runs needs the bearer token' });
    }
  };
  // Also before the body: a caller over its budget is told so however it wrote the request.
  const limitRuns = async (_req: FastifyRequest, reply: FastifyReply) => {
    const waitMs = runs.blockedFor('token');
    if (waitMs > 0) {
      return reply
        .code(429)
        .header('retry-after', String(Math.ceil(waitMs / 1000)))
        .send({ error: 'too-many-requests', message: `at most ${RUNS_PER_WINDOW} runs per ${RUNS_WINDOW_MS / 1000} s; try again later` });
    }
  };
  app.post('/api/runs', { onRequest: [requireToken, limitRuns], preValidation: noQuery }, async (req, reply) => {
    const body = RunRequestSchema.safeParse(req.body);
    if (!body.success) return reply.code(400).send({ error: 'bad-request', message: problem(body.error) });
    const run = d.scheduler.submit(body.data);
    runs.record('token');
    return reply.code(202).send(run);
  });

  app.get('/api/environment', { preValidation: noQuery }, async () => d.environment());
  app.get('/api/status', { preValidation: noQuery }, async () => d.status());

  app.get('/api/runs', { preValidation: noQuery }, async () => d.scheduler.allRuns());

  app.get('/api/runs/:id', { preValidation: noQuery }, async (req, reply) => {
    const p = RunParams.safeParse(req.params);
    if (!p.success) return reply.code(400).send({ error: 'bad-request', message: `run id: ${problem(p.error)}` });
    const run = d.scheduler.run(p.data.id);
    if (!run) return reply.code(404).send({ error: 'not-found', message: `no run ${p.data.id}` });
    return { ...run.summary(), results: run.results };
  });
}
