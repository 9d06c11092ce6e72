/**
 * The agent's connection to the aggregator. Agents dial out (they never listen, except on the
 * iperf3 port during a test), reconnect with exponential backoff and full jitter, and detect
 * a dead aggregator by its missing pings.
 */
import WebSocket from 'ws';
import type { Logger } from 'pino';
import { backoffDelayMs } from '../shared/backoff.js';
import {
  CloseCode,
  MAX_FRAME_BYTES,
  parseAggregatorMessage,
  ProtocolError,
  type AgentMessage,
  type AggregatorMessage,
} from '../shared/protocol.js';

export interface LinkOptions {
  url: string;
  token: string;
  /** Sent as the first frame of every connection, for the protocol version offered. */
  hello: (protocolVersion: number) => object;
  /**
   * The protocol versions this agent speaks, newest first. It offers the newest; an aggregator
   * that does not speak it closes with protocolVersionMismatch, and the next is offered at once.
   */
  protocolVersions: readonly number[];
  /** Rewrites a frame of an older version into the current one's shape (by version), before it is validated. */
  upgrade?: (protocolVersion: number, frame: unknown) => unknown;
  onMessage: (m: AggregatorMessage) => void;
  /** After the aggregator welcomed us. */
  onConnected: () => void;
  onDisconnected: () => void;
  log: Logger;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Reconnect when no ping arrived for this long, ms (default: three of the aggregator's heartbeats, or 45 s). */
  deadAfterMs?: number;
  random?: () => number;
}

export class AggregatorLink {
  private ws: WebSocket | undefined;
  private attempt = 0;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private deadTimer: NodeJS.Timeout | undefined;
  private welcomed = false;
  /** Index into protocolVersions of the version offered on the current connection. */
  private offer = 0;
  /** Heartbeats the aggregator may miss in a row before the connection is taken for dead. */
  private static readonly missedPings = 3;
  private deadAfterMs = 45_000;

  constructor(private readonly o: LinkOptions) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  /** The protocol version of the current connection (the one offered, which the welcome confirms). */
  get protocolVersion(): number {
    return this.o.protocolVersions[this.offer] as number;
  }

  get connected(): boolean {
    return this.welcomed && this.ws?.readyState === WebSocket.OPEN;
  }

  /** Send if connected; returns false when the frame could not be sent now. */
  send(m: AgentMessage): boolean {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(m));
    return true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.deadTimer);
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      ws.close(1001, 'agent stopping');
      setTimeout(() => (ws.terminate(), resolve()), 2000).unref();
    });
  }

  private connect(): void {
    const ws = new WebSocket(this.o.url, {
      headers: { authorization: `Bearer ${this.o.token}` },
      maxPayload: MAX_FRAME_BYTES,
      handshakeTimeout: 10_000,
    });
    this.ws = ws;
    this.welcomed = false;
    ws.on('open', () => {
      this.armDeadTimer();
      ws.send(JSON.stringify(this.o.hello(this.protocolVersion)));
    });
    ws.on('ping', () => this.armDeadTimer());
    ws.on('message', (data: WebSocket.RawData) => {
      let m: AggregatorMessage;
      try {
        const version = this.protocolVersion;
        const upgrade = this.o.upgrade;
        m = parseAggregatorMessage(data as Buffer, upgrade && ((f) => upgrade(version, f)));
      } catch (e) {
        // The aggregator is the trusted side, but a bad frame is still not run.
        this.o.log.error({ err: e instanceof ProtocolError ? e.message : e }, 'bad frame from aggregator');
        ws.close(1008, 'bad frame');
        return;
      }
      if (m.type === 'welcome') {
        this.welcomed = true;
        if (m.heartbeatMs !== undefined) this.deadAfterMs = AggregatorLink.missedPings * m.heartbeatMs;
        this.armDeadTimer();
        this.attempt = 0;
        this.o.log.info({ sessionId: m.sessionId, protocolVersion: this.protocolVersion }, 'connected to aggregator');
        this.o.onConnected();
        return;
      }
      this.o.onMessage(m);
    });
    ws.on('unexpected-response', (_req, res) => {
      this.o.log.error(
        { status: res.statusCode },
        res.statusCode === 401 ? 'aggregator refused our token' : 'aggregator refused the connection',
      );
      ws.terminate();
    });
    ws.on('error', (e) => this.o.log.debug({ err: e.message }, 'connection error'));
    ws.on('close', (code, reason) => {
      clearTimeout(this.deadTimer);
      const wasWelcomed = this.welcomed;
      this.welcomed = false;
      if (wasWelcomed) {
        this.o.log.warn({ code, reason: reason.toString() }, 'disconnected from aggregator');
        this.o.onDisconnected();
      }
      if (this.stopped) return;
      // An aggregator of an older release: offer it the next older version we speak, at once.
      if (!wasWelcomed && code === CloseCode.protocolVersionMismatch && this.offer + 1 < this.o.protocolVersions.length) {
        this.offer++;
        this.o.log.info({ reason: reason.toString(), offering: this.protocolVersion }, 'aggregator speaks an older protocol');
        this.connect();
        return;
      }
      // Every new connection offers the newest version first: the aggregator may have been upgraded.
      this.offer = 0;
      this.scheduleReconnect();
    });
  }

  private armDeadTimer(): void {
    clearTimeout(this.deadTimer);
    this.deadTimer = setTimeout(() => {
      this.o.log.warn('no ping from aggregator, reconnecting');
      this.ws?.terminate();
    }, this.o.deadAfterMs ?? this.deadAfterMs);
  }

  private scheduleReconnect(): void {
    const delay = backoffDelayMs(this.attempt++, {
      initialMs: this.o.initialBackoffMs ?? 500,
      maxMs: this.o.maxBackoffMs ?? 30_000,
      random: this.o.random ?? Math.random,
    });
    this.o.log.debug({ delay, attempt: this.attempt }, 'reconnecting');
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}
