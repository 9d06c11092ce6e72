/**
 * The agents' WebSocket endpoint. Refuses connections without the token before the upgrade,
 * and an address that keeps presenting bad tokens with 429 before comparing anything;
 * parses every frame once (shared/protocol.ts) and closes a connection that sends a
 * malformed, oversized, unknown or out-of-order frame, or a hello for an address it does not
 * connect from, with a policy-violation code, counting it, without touching any other agent.
 * Heartbeats with ws pings.
 */
import { randomUUID, timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type WebSocket from 'ws';
import type {} from '@fastify/websocket';
import { CloseCode, parseAgentMessage, ProtocolError, type AgentIdentity, type AggregatorMessage } from '../shared/protocol.js';
import { downgradeToV1, NotInV1Error, PROTOCOL_V1, SPOKEN_PROTOCOL_VERSIONS } from '../shared/protocol-v1.js';
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
  /** Which hellos must come from the address they claim (default all). */
  addressCheck?: AddressCheck;
  helloTimeoutMs?: number;
  /** Clock of the bad-token limiter, ms (a parameter so tests need not wait a minute). */
  now?: () => number;
}

/**
 * Which agents' hellos must come from the address they claim: `pod` agents only (the default:
 * pod IPs are not rewritten between pods, while a host-network agent's packets may leave from a
 * tunnel address under IPIP/VXLAN overlays or be SNATed), `all`, or `off`.
 */
export type AddressCheck = 'all' | 'pod' | 'off';

/** Bad tokens one remote address may present within AUTH_FAILURE_WINDOW_MS before it gets 429. */
export const AUTH_FAILURE_LIMIT = 10;
export const AUTH_FAILURE_WINDOW_MS = 60_000;
/** Addresses the limiter remembers at most; the stalest are forgotten first. */
const LIMITER_MAX_KEYS = 10_000;

/**
 * A sliding-window counter of events per key (a remote address, a token holder): `blocked`
 * says for how many more ms a key that reached `limit` events within `windowMs` must wait.
 */
export class WindowLimiter {
  private readonly events = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** ms until `key` may try again, or 0 when it is not blocked. */
  blockedFor(key: string): number {
    const times = this.recent(key);
    if (times.length < this.limit) return 0;
    // The window slides: the key is free again once its oldest counted event leaves it.
    return Math.max(1, (times[times.length - this.limit] ?? 0) + this.windowMs - this.now());
  }

  record(key: string): void {
    const times = this.recent(key);
    times.push(this.now());
    // Only the newest `limit` events can matter.
    if (times.length > this.limit) times.splice(0, times.length - this.limit);
    this.events.delete(key);
    this.events.set(key, times);
    if (this.events.size > LIMITER_MAX_KEYS) {
      const stalest = this.events.keys().next().value;
      if (stalest !== undefined) this.events.delete(stalest);
    }
  }

  private recent(key: string): number[] {
    const since = this.now() - this.windowMs;
    return (this.events.get(key) ?? []).filter((t) => t > since);
  }
}

/** The peer's IPv4 address as agents announce theirs (an IPv4-mapped IPv6 address unwrapped). */
export function remoteIpv4(address: string | undefined): string | undefined {
  return address?.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
}

function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1';
}

/**
 * Why a hello must be refused as an impersonation, or undefined. The address an agent claims
 * for its mode (podIp for pod, hostIp for host) is where the aggregator sends other agents'
 * test traffic, so it must be the address the agent connects from. Loopback peers are exempt:
 * local agents (the loopback demo, tests) all connect from 127.0.0.1 whatever they announce.
 */
export function impersonation(identity: AgentIdentity, remote: string | undefined, check: AddressCheck = 'all'): string | undefined {
  if (check === 'off' || (check === 'pod' && identity.mode !== 'pod')) return undefined;
  const claimed = identity.mode === 'pod' ? identity.podIp : identity.hostIp;
  if (remote !== undefined && (isLoopback(remote) || remote === claimed)) return undefined;
  const field = identity.mode === 'pod' ? 'podIp' : 'hostIp';
  return `impersonation: hello claims ${field} ${claimed} but connects from ${remote ?? 'an unknown address'}`;
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
  const badTokens = new WindowLimiter(AUTH_FAILURE_LIMIT, AUTH_FAILURE_WINDOW_MS, d.now);
  const preValidation = async (req: FastifyRequest, reply: FastifyReply) => {
    const remote = remoteIpv4(req.socket.remoteAddress) ?? 'unknown';
    // Checked before the token: a guesser learns nothing more, not even from timing.
    const waitMs = badTokens.blockedFor(remote);
    if (waitMs > 0) {
      d.metrics.protocolError('rate-limited');
      d.log.warn({ remote }, 'agent refused: too many bad tokens from this address');
      return reply
        .code(429)
        .header('retry-after', String(Math.ceil(waitMs / 1000)))
        .send({ error: 'too-many-requests', message: 'too many bad tokens from this address; try again later' });
    }
    if (!tokenMatches(bearer(req), d.token)) {
      badTokens.record(remote);
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

    const accept = (identity: AgentIdentity, protocolVersion: number) => {
      // A version-1 agent (the previous release) gets every command in v1's shape.
      const encode = (m: AggregatorMessage): object => (protocolVersion === PROTOCOL_V1 ? downgradeToV1(m) : m);
      const s: AgentSession = {
        id: sessionId,
        identity,
        connectedAt: new Date(),
        send: (m: AggregatorMessage) => {
          if (socket.readyState !== socket.OPEN) return false;
          let frame: object;
          try {
            frame = encode(m);
          } catch (e) {
            if (!(e instanceof NotInV1Error)) throw e;
            log.warn({ reason: e.message, type: m.type }, 'command not sent: the agent speaks an older protocol');
            return false;
          }
          socket.send(JSON.stringify(frame));
          return true;
        },
        close: (code, why) => socket.close(code, reason(why)),
      };
      session = s;
      const replaced = d.agents.add(s);
      replaced?.close(CloseCode.duplicateAgent, 'replaced by a newer connection from the same node and mode');
      s.send({ type: 'welcome', protocolVersion, sessionId, heartbeatMs: d.heartbeatMs });
      log.info({ node: identity.nodeName, mode: identity.mode, podIp: identity.podIp, protocolVersion }, 'agent connected');
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
        if (!SPOKEN_PROTOCOL_VERSIONS.includes(m.protocolVersion)) {
          return violation(
            `version: agent speaks protocol ${m.protocolVersion}, aggregator ${SPOKEN_PROTOCOL_VERSIONS.join(' and ')}`,
            CloseCode.protocolVersionMismatch,
          );
        }
        const impostor = impersonation(m.agent, remoteIpv4(req.socket.remoteAddress), d.addressCheck);
        if (impostor) return violation(impostor);
        return accept(m.agent, m.protocolVersion);
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
