/**
 * A real agent (startAgent) across aggregator restarts. The first "aggregator" is a bare ws
 * server that speaks the protocol but never acknowledges, so the agent holds a real result in
 * its outbox; then it goes away and the real aggregator comes up on the same port. The agent
 * must reconnect by itself, announce itself again and re-send the unacknowledged result; once
 * acknowledged, the result is not sent again after the next restart.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { startAgent, type RunningAgent } from '../../agent/agent.js';
import { AggregatorLink } from '../../agent/link.js';
import { loadAgentConfig } from '../../agent/config.js';
import { AGENT_SOCKET_PATH } from '../../aggregator/agent-socket.js';
import { buildAggregator, type Aggregator } from '../../aggregator/app.js';
import { loadAggregatorConfig } from '../../aggregator/config.js';
import { parseProcStat, procStatIdentity, sameProcStat } from '../../shared/cpu.js';
import {
  CloseCode,
  parseAgentMessage,
  PROTOCOL_VERSION,
  type AgentMessage,
  type AggregatorMessage,
  type ResultMessage,
} from '../../shared/protocol.js';
import { helloV1, PROTOCOL_V1, SPOKEN_PROTOCOL_VERSIONS, upgradeV1Frame } from '../../shared/protocol-v1.js';
import { testIdentity } from '../helpers/identity.js';
import { describeWith, waitFor } from '../helpers/requirements.js';

const TOKEN = 'link-test-token';
const log = pino({ level: 'silent' });

let agent: RunningAgent | undefined;
let agg: Aggregator | undefined;
let scripted: WebSocketServer | undefined;

afterAll(async () => {
  await agent?.stop();
  await agg?.close();
  await new Promise((resolve) => (scripted ? scripted.close(resolve) : resolve(undefined)));
});

async function realAggregator(port: number): Promise<Aggregator> {
  const config = loadAggregatorConfig(
    { NETMATRIX_TOKEN: TOKEN, NETMATRIX_CONTINUOUS: 'false', NETMATRIX_LISTEN_HOST: '127.0.0.1', NETMATRIX_LISTEN_PORT: String(port) },
    [],
  );
  const a = await buildAggregator({ config, log });
  await a.listen();
  return a;
}

async function counter(a: Aggregator, name: string, reason: string): Promise<number> {
  const metric = a.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  return (await metric.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

/** A port on 127.0.0.1 with nothing listening: the agent's probe to it is refused at once. */
const DEAD_PORT = 5299;

describeWith({ binaries: ['iperf3'] }, 'agent link across aggregator restarts', () => {
  it('reconnects, re-announces and re-sends the unacknowledged result, then forgets it once acknowledged', async () => {
    // 1. A scripted aggregator: welcomes, gives one command, never acknowledges.
    const frames: AgentMessage[] = [];
    const sockets = new Set<WebSocket>();
    scripted = new WebSocketServer({ host: '127.0.0.1', port: 0, path: AGENT_SOCKET_PATH });
    await new Promise((resolve) => scripted?.once('listening', resolve));
    const port = (scripted.address() as AddressInfo).port;
    scripted.on('connection', (ws, req) => {
      expect(req.headers.authorization).toBe(`Bearer ${TOKEN}`);
      sockets.add(ws);
      ws.on('message', (data) => {
        const m = parseAgentMessage(data as Buffer);
        frames.push(m);
        if (m.type === 'hello') {
          ws.send(JSON.stringify({ type: 'welcome', protocolVersion: PROTOCOL_VERSION, sessionId: 'scripted' }));
          const spec = { kind: 'throughput', protocol: 'tcp', durationSeconds: 1, bitrateBitsPerSecond: 0, streams: 1, reverse: false };
          ws.send(JSON.stringify({ type: 'probe', testId: 'lost-ack', target: '127.0.0.1', port: DEAD_PORT, spec }));
        }
      });
    });

    const config = loadAgentConfig(
      {
        NETMATRIX_TOKEN: TOKEN,
        NETMATRIX_AGGREGATOR_URL: `ws://127.0.0.1:${port}${AGENT_SOCKET_PATH}`,
        NETMATRIX_NODE_NAME: 'node-link',
        NETMATRIX_POD_NAME: 'agent-link',
        NETMATRIX_POD_IP: '127.0.0.1',
        NETMATRIX_ALLOWED_TARGET_CIDRS: '127.0.0.0/8',
        NETMATRIX_CONNECT_TIMEOUT_MS: '1000',
      },
      [],
    );
    agent = await startAgent(config, log);

    const first = await waitFor(() => frames.find((f): f is ResultMessage => f.type === 'result'), 10_000, 'the probe result', 20);
    expect(frames[0]).toMatchObject({ type: 'hello', protocolVersion: PROTOCOL_VERSION, agent: { nodeName: 'node-link' } });
    // The hello carries a reading of the /proc/stat the agent sees: this machine's, as this
    // process's own later reading confirms.
    const firstReading = frames[0]?.type === 'hello' ? frames[0].agent.facts.procStat : undefined;
    expect(firstReading?.cores).toBeGreaterThan(0);
    expect(sameProcStat(firstReading, procStatIdentity(parseProcStat(readFileSync('/proc/stat', 'utf8'), Date.now())))).toBe(true);
    expect(first).toMatchObject({ testId: 'lost-ack', role: 'client', ok: false, error: { code: 'connection-refused' } });

    // 2. The scripted aggregator dies without acknowledging; the real one takes its port.
    for (const ws of sockets) ws.terminate();
    await new Promise((resolve) => scripted?.close(resolve));
    scripted = undefined;
    agg = await realAggregator(port);

    await waitFor(() => agg?.agents.find('node-link', 'pod'), 15_000, 'the agent to reconnect', 20);
    const a1 = agg;
    await waitFor(async () => (await counter(a1, 'netmatrix_results_ignored_total', 'unknown-test')) === 1, 5000, 'the re-sent result', 20);
    // The very result the scripted aggregator never acknowledged, by its id.
    expect(a1.store.firstSighting(first.resultId)).toBe(false);

    // 3. Restart again: the acknowledged result must not come back.
    await a1.close();
    agg = await realAggregator(port);
    const a2 = agg;
    const session = await waitFor(() => a2.agents.find('node-link', 'pod'), 15_000, 'the agent to reconnect again', 20);
    // Every hello has a reading, the newest the agent has (the background history's).
    expect(session.identity.facts.procStat?.atMs).toBeGreaterThanOrEqual(firstReading?.atMs ?? Infinity);
    // A fresh command's result arrives after anything the agent flushed on connecting.
    const spec = {
      kind: 'throughput' as const,
      protocol: 'tcp' as const,
      durationSeconds: 1,
      bitrateBitsPerSecond: 0,
      streams: 1,
      reverse: false,
    };
    session.send({ type: 'probe', testId: 'after-restart', target: '127.0.0.1', port: DEAD_PORT, spec });
    await waitFor(async () => (await counter(a2, 'netmatrix_results_ignored_total', 'unknown-test')) === 1, 10_000, 'the fresh result', 20);
    expect(a2.store.firstSighting(first.resultId)).toBe(true);
    expect(await counter(a2, 'netmatrix_results_ignored_total', 'duplicate')).toBe(0);
  });

  it('takes the aggregator for dead after three of the heartbeats its welcome announced, and reconnects', async () => {
    const HEARTBEAT_MS = 200;
    const welcomedAt: number[] = [];
    const silent = new WebSocketServer({ host: '127.0.0.1', port: 0, path: AGENT_SOCKET_PATH, autoPong: true });
    await new Promise((resolve) => silent.once('listening', resolve));
    // This server never pings: only the agent's dead timer can end a connection.
    silent.on('connection', (ws) =>
      ws.on('message', () => {
        welcomedAt.push(Date.now());
        ws.send(JSON.stringify({ type: 'welcome', protocolVersion: PROTOCOL_VERSION, sessionId: 'silent', heartbeatMs: HEARTBEAT_MS }));
      }),
    );
    const link = new AggregatorLink({
      url: `ws://127.0.0.1:${(silent.address() as AddressInfo).port}${AGENT_SOCKET_PATH}`,
      token: TOKEN,
      hello: () => ({ type: 'hello', protocolVersion: PROTOCOL_VERSION, agent: testIdentity({ nodeName: 'node-silent' }) }),
      protocolVersions: [PROTOCOL_VERSION],
      onMessage: () => undefined,
      onConnected: () => undefined,
      onDisconnected: () => undefined,
      log,
      initialBackoffMs: 10,
      maxBackoffMs: 10,
    });
    try {
      link.start();
      await waitFor(() => welcomedAt.length >= 3, 10_000, 'two reconnects after missed heartbeats');
      const gaps = welcomedAt.slice(1).map((t, i) => t - (welcomedAt[i] as number));
      // Not before three intervals, and far sooner than the 45 s of an aggregator that says nothing.
      for (const gap of gaps) {
        expect(gap).toBeGreaterThanOrEqual(3 * HEARTBEAT_MS);
        expect(gap).toBeLessThan(5000);
      }
    } finally {
      await link.stop();
      await new Promise((resolve) => silent.close(resolve));
    }
  }, 20_000);
});

it('offers the newest protocol, falls back to version 1 for an aggregator that refuses it, and reads v1 commands as its own', async () => {
  const offered: number[] = [];
  const old = new WebSocketServer({ host: '127.0.0.1', port: 0, path: AGENT_SOCKET_PATH });
  await new Promise((resolve) => old.once('listening', resolve));
  // The previous release's aggregator: it closes 4000 on any version but 1, and speaks v1.
  old.on('connection', (ws) =>
    ws.on('message', (data: Buffer) => {
      const hello = JSON.parse(data.toString()) as { protocolVersion: number };
      offered.push(hello.protocolVersion);
      if (hello.protocolVersion !== PROTOCOL_V1) return ws.close(CloseCode.protocolVersionMismatch, 'version: aggregator 1');
      ws.send(JSON.stringify({ type: 'welcome', protocolVersion: 1, sessionId: 'old' }));
      const spec = {
        kind: 'latency',
        protocol: 'tcp',
        durationSeconds: 1,
        messageSizeBytes: 64,
        messagesPerSecond: 100,
        connectSamples: 0,
      };
      ws.send(JSON.stringify({ type: 'probe-latency', testId: 't-old', target: '198.18.0.9', port: 5201, spec }));
    }),
  );
  const received: AggregatorMessage[] = [];
  const link = new AggregatorLink({
    url: `ws://127.0.0.1:${(old.address() as AddressInfo).port}${AGENT_SOCKET_PATH}`,
    token: TOKEN,
    hello: (protocolVersion) =>
      protocolVersion === PROTOCOL_V1
        ? helloV1(testIdentity({ nodeName: 'node-old' }), 15_000)
        : { type: 'hello', protocolVersion, agent: testIdentity({ nodeName: 'node-old' }) },
    protocolVersions: SPOKEN_PROTOCOL_VERSIONS,
    upgrade: (v, frame) => (v === PROTOCOL_V1 ? upgradeV1Frame(frame) : frame),
    onMessage: (m) => received.push(m),
    onConnected: () => undefined,
    onDisconnected: () => undefined,
    log,
    initialBackoffMs: 10,
    maxBackoffMs: 10,
  });
  try {
    link.start();
    await waitFor(() => received.length > 0, 10_000, 'the v1 command');
    expect(offered).toEqual([PROTOCOL_VERSION, PROTOCOL_V1]);
    expect(link.protocolVersion).toBe(PROTOCOL_V1);
    expect(received[0]).toMatchObject({ type: 'probe', testId: 't-old', spec: { kind: 'latency' } });
  } finally {
    await link.stop();
    await new Promise((resolve) => old.close(resolve));
  }
});
