/**
 * The agents' WebSocket endpoint. Refuses connections without the token before the upgrade;
 * parses every frame once (shared/protocol.ts) and closes a connection that sends a
 * malformed, oversized, unknown or out-of-order frame with a policy-violation code, counting
 * it, without touching any other agent. Heartbeats with ws pings.
 */
import { randomUUID, timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type WebSocket from 'ws';
import type {} from '@fastify/websocket';
import {
  CloseCode,
  parseAgentMessage,
  PROTOCOL_VERSION,
  ProtocolError,
  type AgentIdentity,
  type AggregatorMessage,
} from '../shared/protocol.js';
import type { AgentRegistry, AgentSession } from './agents.js';
import type { Broker } from './broker.js';
import type { Metrics } from './metrics.js';
import type { ResultStore } from './results.js';

export const AGENT_SOCKET_PATH = '/ws/agent';

export interface AgentSocketDeps {
  token: string;
  agents: AgentRegistry;
  broker: Broker;
  store: ResultStore;
  metrics: Metrics;
  log: Logger;
  heartbeatMs: number;
  helloTimeoutMs?: number;
}

/** Compare secrets in constant time (hashing first makes the lengths equal). */
export function tokenMatches(presented: string | undefined, token: string): boolean {
  if (presented === undefined) return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

export function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice('Bearer '.length) : undefined;
}

/** Close reasons are limited to 123 bytes by RFC 6455. */
function reason(text: string): string {
  return Buffer.from(text).subarray(0, 120).toString();
}

export function registerAgentSocket(app: FastifyInstance, d: AgentSocketDeps): void {
  const preValidation = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!tokenMatches(bearer(req), d.token)) {
      d.metrics.protocolError('unauthorized');
      d.log.warn({ remote: req.ip }, 'agent refused: bad or missing token');
      return reply.code(401).send({ error: 'unauthorized', message: 'a valid bearer token is required' });
    }
  };

  app.get(AGENT_SOCKET_PATH, { websocket: true, preValidation }, (socket: WebSocket, req) => {
    const sessionId = randomUUID();
    const log = d.log.child({ sessionId, remote: req.ip });
    let session: AgentSession | undefined;
    let alive = true;
    // Set once we have told the peer to go: frames it already sent still arrive while the
    // close handshake runs, and must not count (a hello would register it and could evict
    // the healthy agent of the same node and mode).
    let violated = false;

    const violation = (why: string, code: number = CloseCode.policyViolation) => {
      violated = true;
      d.metrics.protocolError(why.split(':')[0] ?? why);
      log.warn({ reason: why }, 'agent connection closed for a protocol violation');
      socket.close(code, reason(why));
    };

    const helloTimer = setTimeout(() => violation('hello-timeout: no hello in time'), d.helloTimeoutMs ?? 10_000);
    const heartbeat = setInterval(() => {
      if (!alive) {
        log.warn('agent missed a heartbeat');
        socket.terminate();
        return;
      }
      alive = false;
      socket.ping();
    }, d.heartbeatMs);
    socket.on('pong', () => (alive = true));

    const accept = (identity: AgentIdentity) => {
      const s: AgentSession = {
        id: sessionId,
        identity,
        connectedAt: new Date(),
        send: (m: AggregatorMessage) => {
          if (socket.readyState !== socket.OPEN) return false;
          socket.send(JSON.stringify(m));
          return true;
        },
        close: (code, why) => socket.close(code, reason(why)),
      };
      session = s;
      const replaced = d.agents.add(s);
      replaced?.close(CloseCode.duplicateAgent, 'replaced by a newer connection from the same node and mode');
      s.send({ type: 'welcome', protocolVersion: PROTOCOL_VERSION, sessionId });
      log.info({ node: identity.nodeName, mode: identity.mode, podIp: identity.podIp }, 'agent connected');
    };

    socket.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      if (violated) return;
      if (isBinary) return violation('malformed: binary frame');
      let m;
      try {
        m = parseAgentMessage(data as Buffer);
      } catch (e) {
        if (e instanceof ProtocolError) return violation(`malformed: ${e.message}`);
        throw e;
      }
      if (!session) {
        if (m.type !== 'hello') return violation(`out-of-order: ${m.type} before hello`);
        clearTimeout(helloTimer);
        if (m.protocolVersion !== PROTOCOL_VERSION) {
          return violation(
            `version: agent speaks protocol ${m.protocolVersion}, aggregator ${PROTOCOL_VERSION}`,
            CloseCode.protocolVersionMismatch,
          );
        }
        return accept(m.agent);
      }
      switch (m.type) {
        case 'hello':
          return violation('out-of-order: second hello');
        case 'ready': {
          const delivery = d.broker.ready(session.id, m.testId);
          if (delivery !== 'delivered') log.warn({ testId: m.testId, delivery }, 'ready for a test this agent was not given');
          return;
        }
        case 'cpu-sample': {
          const delivery = d.broker.cpuSample(session.id, m);
          if (delivery !== 'delivered') log.warn({ requestId: m.requestId, delivery }, 'cpu sample nobody asked for');
          return;
        }
        case 'result': {
          // Acknowledge in every case: the agent may forget it; only first sightings are used.
          session.send({ type: 'ack', resultIds: [m.resultId] });
          if (!d.store.firstSighting(m.resultId)) return d.metrics.resultIgnored('duplicate');
          const delivery = d.broker.result(session.id, m);
          if (delivery !== 'delivered') {
            d.metrics.resultIgnored(delivery);
            log.warn({ testId: m.testId, role: m.role, delivery }, 'result ignored');
          }
          return;
        }
      }
    });

    socket.on('error', (e) => {
      d.metrics.protocolError('socket-error');
      log.warn({ err: e.message }, 'agent socket error');
    });

    socket.on('close', (code) => {
      clearTimeout(helloTimer);
      clearInterval(heartbeat);
      if (!session) return;
      // Only the registered session may remove itself: a replaced one is already gone.
      if (d.agents.get(session.id)) d.agents.remove(session.id);
      d.broker.sessionClosed(session.id);
      log.info({ node: session.identity.nodeName, mode: session.identity.mode, code }, 'agent disconnected');
    });
  });
}
