/**
 * The agents' WebSocket endpoint on a real listener (port 0) with real `ws` clients: the
 * token is checked before the upgrade, every bad frame closes only the connection that sent
 * it (1008) and is counted, and a well-behaved agent connected at the same time carries on.
 */
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { AGENT_SOCKET_PATH } from '../../aggregator/agent-socket.js';
import { buildAggregator, type Aggregator } from '../../aggregator/app.js';
import { loadAggregatorConfig } from '../../aggregator/config.js';
import {
  CloseCode,
  MAX_FRAME_BYTES,
  parseAggregatorMessage,
  PROTOCOL_VERSION,
  type AgentIdentity,
  type AggregatorMessage,
} from '../../shared/protocol.js';
import { testIdentity, testResult } from '../helpers/identity.js';
import { waitFor } from '../helpers/requirements.js';

const TOKEN = 'socket-test-token';

let agg: Aggregator;
let httpUrl: string;
let wsUrl: string;
const clients: Client[] = [];

beforeAll(async () => {
  const config = loadAggregatorConfig(
    { NETMATRIX_TOKEN: TOKEN, NETMATRIX_CONTINUOUS: 'false', NETMATRIX_LISTEN_HOST: '127.0.0.1', NETMATRIX_LISTEN_PORT: '0' },
    [],
  );
  agg = await buildAggregator({ config, log: pino({ level: 'silent' }) });
  httpUrl = await agg.listen();
  wsUrl = `${httpUrl.replace(/^http/, 'ws')}${AGENT_SOCKET_PATH}`;
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await waitFor(() => agg.agents.all().length === 0, 5000, 'every agent to leave the registry', 10);
});

afterAll(async () => {
  await agg?.close();
});

interface Closed {
  code: number;
  reason: string;
}

/** A raw agent connection: every frame it receives, how it closed, or why it was refused. */
interface Client {
  ws: WebSocket;
  frames: AggregatorMessage[];
  opened: Promise<void>;
  closed: Promise<Closed>;
  /** Resolves with the HTTP status when the upgrade is refused. */
  refused: Promise<number>;
  send(frame: unknown): void;
}

function connect(headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }): Client {
  const ws = new WebSocket(wsUrl, { headers });
  const frames: AggregatorMessage[] = [];
  ws.on('message', (data: WebSocket.RawData) => frames.push(parseAggregatorMessage(data as Buffer)));
  ws.on('error', () => undefined);
  const c: Client = {
    ws,
    frames,
    opened: new Promise((resolve) => ws.once('open', () => resolve())),
    closed: new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }))),
    refused: new Promise((resolve) =>
      ws.once('unexpected-response', (req, res) => {
        res.resume();
        req.destroy();
        resolve(res.statusCode ?? 0);
      }),
    ),
    send: (frame) => ws.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame)),
  };
  clients.push(c);
  return c;
}

function identity(nodeName: string, mode: AgentIdentity['mode'] = 'pod'): AgentIdentity {
  return testIdentity({ nodeName, mode, podName: `netmatrix-agent-${nodeName}` });
}

const hello = (nodeName: string, mode: AgentIdentity['mode'] = 'pod', protocolVersion = PROTOCOL_VERSION) => ({
  type: 'hello',
  protocolVersion,
  agent: identity(nodeName, mode),
});

/** Connect, say hello and wait for the welcome. */
async function agent(nodeName: string, mode: AgentIdentity['mode'] = 'pod'): Promise<Client> {
  const c = connect();
  await c.opened;
  c.send(hello(nodeName, mode));
  await waitFor(() => c.frames.find((f) => f.type === 'welcome'), 5000, `welcome for ${nodeName}`, 10);
  return c;
}

/** The good agent still answers: a result it sends is acknowledged. */
async function stillAnswers(c: Client, resultId: string): Promise<void> {
  expect(c.ws.readyState).toBe(WebSocket.OPEN);
  c.send(testResult(resultId));
  await waitFor(() => c.frames.some((f) => f.type === 'ack' && f.resultIds.includes(resultId)), 5000, `ack of ${resultId}`, 10);
}

async function counter(name: string, labels: Record<string, string>): Promise<number> {
  const metric = agg.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  return values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))?.value ?? 0;
}
const protocolErrors = (reason: string) => counter('netmatrix_protocol_errors_total', { reason });

async function listedAgents(): Promise<{ nodeName: string; mode: string; sessionId: string }[]> {
  const res = await fetch(`${httpUrl}/api/agents`);
  expect(res.status).toBe(200);
  return (await res.json()) as { nodeName: string; mode: string; sessionId: string }[];
}

describe('authentication', () => {
  it('refuses an upgrade without a token with 401 and counts it', async () => {
    const before = await protocolErrors('unauthorized');
    const c = connect({});
    expect(await c.refused).toBe(401);
    expect(await protocolErrors('unauthorized')).toBe(before + 1);
    expect(agg.agents.all()).toEqual([]);
  });

  it('refuses an upgrade with a wrong token with 401', async () => {
    const before = await protocolErrors('unauthorized');
    expect(await connect({ authorization: 'Bearer wrong' }).refused).toBe(401);
    expect(await connect({ authorization: `Basic ${TOKEN}` }).refused).toBe(401);
    expect(await protocolErrors('unauthorized')).toBe(before + 2);
  });

  it('welcomes a valid hello and lists the agent, counted by mode', async () => {
    const c = await agent('node-a', 'host');
    const welcome = c.frames[0];
    expect(welcome).toMatchObject({ type: 'welcome', protocolVersion: PROTOCOL_VERSION });
    const listed = await listedAgents();
    expect(listed).toEqual([expect.objectContaining({ nodeName: 'node-a', mode: 'host', podIp: '198.19.1.2' })]);
    expect(listed[0]?.sessionId).toBe(welcome?.type === 'welcome' ? welcome.sessionId : undefined);
    expect(await counter('netmatrix_agents_connected', { mode: 'host' })).toBe(1);
    expect(await counter('netmatrix_agents_connected', { mode: 'pod' })).toBe(0);
    const matrix = (await (await fetch(`${httpUrl}/api/matrix`)).json()) as { nodes: { name: string }[] };
    expect(matrix.nodes.map((n) => n.name)).toEqual(['node-a']);
  });
});

describe('protocol violations close only the offending connection', () => {
  let good: Client;

  const cases: Array<{ name: string; reason: string; helloFirst: boolean; frame: () => unknown }> = [
    { name: 'a frame that is not JSON', reason: 'malformed', helloFirst: false, frame: () => 'this is not json' },
    { name: 'an unknown message type', reason: 'malformed', helloFirst: true, frame: () => ({ type: 'shutdown' }) },
    { name: 'a frame before hello', reason: 'out-of-order', helloFirst: false, frame: () => ({ type: 'ready', testId: 't1' }) },
    { name: 'a second hello', reason: 'out-of-order', helloFirst: true, frame: () => hello('node-bad') },
    { name: 'a hello with an extra field', reason: 'malformed', helloFirst: false, frame: () => ({ ...hello('node-bad'), admin: true }) },
    {
      name: 'a binary frame',
      reason: 'malformed',
      helloFirst: true,
      frame: () => Buffer.from(JSON.stringify({ type: 'ready', testId: 't1' })),
    },
    {
      name: 'a frame over MAX_FRAME_BYTES (but under the 4x transport cap)',
      reason: 'malformed',
      helloFirst: true,
      frame: () => JSON.stringify({ type: 'ready', testId: 't1' }) + ' '.repeat(MAX_FRAME_BYTES),
    },
  ];

  it.each(cases)('$name -> close 1008, counted as $reason, the other agent unaffected', async ({ reason, helloFirst, frame }) => {
    good = await agent('node-good');
    const before = await protocolErrors(reason);
    const bad = connect();
    await bad.opened;
    if (helloFirst) {
      bad.send(hello('node-bad'));
      await waitFor(() => bad.frames.some((f) => f.type === 'welcome'), 5000, 'welcome of the bad agent', 10);
    }
    const f = frame();
    if (Buffer.isBuffer(f)) bad.ws.send(f, { binary: true });
    else bad.send(f);

    const closed = await bad.closed;
    expect(closed.code).toBe(CloseCode.policyViolation);
    expect(closed.reason).toMatch(new RegExp(`^${reason}: `));
    expect(await protocolErrors(reason)).toBe(before + 1);

    await waitFor(async () => (await listedAgents()).map((a) => a.nodeName).join() === 'node-good', 5000, 'only the good agent listed', 10);
    await stillAnswers(good, `still-here-${reason}-${Date.now()}`);
  });

  it('a frame over 4x MAX_FRAME_BYTES is cut off by the transport with 1009', async () => {
    good = await agent('node-good');
    const bad = await agent('node-bad');
    bad.send(' '.repeat(MAX_FRAME_BYTES * 4 + 1));
    expect((await bad.closed).code).toBe(CloseCode.messageTooBig);
    await stillAnswers(good, 'after-1009');
  });

  it('a hello with protocolVersion 999 -> close 4000, counted as version', async () => {
    good = await agent('node-good');
    const before = await protocolErrors('version');
    const bad = connect();
    await bad.opened;
    bad.send(hello('node-bad', 'pod', 999));
    const closed = await bad.closed;
    expect(closed.code).toBe(CloseCode.protocolVersionMismatch);
    expect(closed.reason).toMatch(/999/);
    expect(bad.frames).toEqual([]);
    expect(await protocolErrors('version')).toBe(before + 1);
    expect((await listedAgents()).map((a) => a.nodeName)).toEqual(['node-good']);
    await stillAnswers(good, 'after-version');
  });

  it('ignores what a violating connection sends after the violation', async () => {
    // The bad connection sends garbage and, in the same breath, a hello claiming the good
    // agent's node and mode. Once it has been told to close, nothing it says may count: the
    // hello must neither register it nor evict the good agent (close 4001).
    good = await agent('node-good');
    const before = await protocolErrors('malformed');
    const bad = connect();
    await bad.opened;
    bad.send('garbage');
    bad.send(hello('node-good'));
    expect((await bad.closed).code).toBe(CloseCode.policyViolation);
    expect(await protocolErrors('malformed')).toBe(before + 1);
    expect(bad.frames).toEqual([]);
    expect(good.ws.readyState, "the healthy agent was evicted by the violator's hello").toBe(WebSocket.OPEN);
    await stillAnswers(good, 'after-garbage-then-hello');
    expect((await listedAgents()).map((a) => a.nodeName)).toEqual(['node-good']);
  });
});

describe('results', () => {
  it('acknowledges a result for a test the agent was not given, counts it as unknown-test, then as duplicate', async () => {
    const c = await agent('node-r');
    const unknownBefore = await counter('netmatrix_results_ignored_total', { reason: 'unknown-test' });
    const dupBefore = await counter('netmatrix_results_ignored_total', { reason: 'duplicate' });

    c.send(testResult('result-1'));
    await waitFor(() => c.frames.some((f) => f.type === 'ack' && f.resultIds.includes('result-1')), 5000, 'first ack', 10);
    expect(c.frames.find((f) => f.type === 'ack')).toEqual({ type: 'ack', resultIds: ['result-1'] });
    expect(await counter('netmatrix_results_ignored_total', { reason: 'unknown-test' })).toBe(unknownBefore + 1);

    c.send(testResult('result-1'));
    await waitFor(() => c.frames.filter((f) => f.type === 'ack').length === 2, 5000, 'second ack', 10);
    expect(await counter('netmatrix_results_ignored_total', { reason: 'duplicate' })).toBe(dupBefore + 1);
    expect(await counter('netmatrix_results_ignored_total', { reason: 'unknown-test' })).toBe(unknownBefore + 1);
    expect(agg.store.latest(10)).toEqual([]);
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('tolerates a ready for a test the agent was not given', async () => {
    const c = await agent('node-r');
    c.send({ type: 'ready', testId: 'never-given' });
    await stillAnswers(c, 'after-stray-ready');
  });
});

describe('leaving', () => {
  it('removes an agent from /api/agents and the gauge when it disconnects', async () => {
    const stays = await agent('node-stays');
    const leaves = await agent('node-leaves');
    expect((await listedAgents()).map((a) => a.nodeName).sort()).toEqual(['node-leaves', 'node-stays']);
    expect(await counter('netmatrix_agents_connected', { mode: 'pod' })).toBe(2);

    leaves.ws.close(CloseCode.goingAway, 'agent stopping');
    await leaves.closed;
    await waitFor(async () => (await listedAgents()).length === 1, 5000, 'the agent to leave', 10);
    expect((await listedAgents()).map((a) => a.nodeName)).toEqual(['node-stays']);
    expect(await counter('netmatrix_agents_connected', { mode: 'pod' })).toBe(1);
    await stillAnswers(stays, 'after-leave');
  });

  it('a newer connection from the same node and mode replaces the older one with 4001', async () => {
    const old = await agent('node-dup');
    const fresh = await agent('node-dup');
    expect((await old.closed).code).toBe(CloseCode.duplicateAgent);
    const listed = await listedAgents();
    expect(listed).toHaveLength(1);
    const welcome = fresh.frames.find((f) => f.type === 'welcome');
    expect(listed[0]?.sessionId).toBe(welcome?.type === 'welcome' ? welcome.sessionId : undefined);
    await stillAnswers(fresh, 'after-replace');
  });

  it('keeps the host and pod agents of one node apart', async () => {
    await agent('node-both', 'host');
    await agent('node-both', 'pod');
    expect((await listedAgents()).map((a) => a.mode).sort()).toEqual(['host', 'pod']);
    expect(await counter('netmatrix_agents_connected', { mode: 'host' })).toBe(1);
    expect(await counter('netmatrix_agents_connected', { mode: 'pod' })).toBe(1);
  });
});
