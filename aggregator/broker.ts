/**
 * Routes agents' `ready` and `result` frames to the test that is waiting for them. Owns the
 * table of active tests: which session serves and which probes each test id. A frame for a
 * test the agent was not given is reported as unknown (the caller logs and counts it).
 */
import { failure, type ErrorCode, type Failure } from '../shared/errors.js';
import type { CpuWindow } from '../shared/cpu.js';
import type { CpuSampleMessage, ResultMessage } from '../shared/protocol.js';

/** What a waiter receives: the frame, or the failure that ended the wait. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; failure: Failure };

class Slot<T> {
  private settle!: (o: Outcome<T>) => void;
  done = false;
  readonly promise = new Promise<Outcome<T>>((resolve) => (this.settle = resolve));
  resolve(o: Outcome<T>): void {
    if (this.done) return;
    this.done = true;
    this.settle(o);
  }
}

export interface ActiveTest {
  testId: string;
  serverSessionId: string;
  clientSessionId: string;
  /** The code of the test kind's tool for a failed side that sent no error of its own. */
  errorCode: ErrorCode;
  ready: Slot<true>;
  serverResult: Slot<ResultMessage>;
  clientResult: Slot<ResultMessage>;
}

export type Delivery = 'delivered' | 'unknown-test' | 'wrong-agent';

export class Broker {
  private readonly active = new Map<string, ActiveTest>();
  /** Outstanding `sample-cpu` requests by request id. */
  private readonly samples = new Map<string, { sessionId: string; slot: Slot<CpuWindow | null> }>();

  /** Wait for the `cpu-sample` answering `requestId` from `sessionId` (the caller sends the request). */
  expectCpuSample(requestId: string, sessionId: string): Promise<Outcome<CpuWindow | null>> {
    const slot = new Slot<CpuWindow | null>();
    this.samples.set(requestId, { sessionId, slot });
    return slot.promise.finally(() => this.samples.delete(requestId));
  }

  cpuSample(sessionId: string, m: CpuSampleMessage): Delivery {
    const s = this.samples.get(m.requestId);
    if (!s) return 'unknown-test';
    if (s.sessionId !== sessionId) return 'wrong-agent';
    s.slot.resolve({ ok: true, value: m.window });
    return 'delivered';
  }

  /** Route frames of `testId`; `errorCode` is its kind's (shared/kinds), so a latency test never fails with iperf3's. */
  open(testId: string, serverSessionId: string, clientSessionId: string, errorCode: ErrorCode = 'iperf3-error'): ActiveTest {
    const t: ActiveTest = {
      testId,
      serverSessionId,
      clientSessionId,
      errorCode,
      ready: new Slot(),
      serverResult: new Slot(),
      clientResult: new Slot(),
    };
    this.active.set(testId, t);
    return t;
  }

  close(testId: string): void {
    this.active.delete(testId);
  }

  get size(): number {
    return this.active.size;
  }

  ready(sessionId: string, testId: string): Delivery {
    const t = this.active.get(testId);
    if (!t) return 'unknown-test';
    if (t.serverSessionId !== sessionId) return 'wrong-agent';
    t.ready.resolve({ ok: true, value: true });
    return 'delivered';
  }

  result(sessionId: string, r: ResultMessage): Delivery {
    const t = this.active.get(r.testId);
    if (!t) return 'unknown-test';
    if (r.role === 'server') {
      if (t.serverSessionId !== sessionId) return 'wrong-agent';
      // A server that failed before listening (port taken, refused spec) also ends the wait for ready.
      t.ready.resolve(r.ok ? { ok: true, value: true } : { ok: false, failure: r.error ?? failure(t.errorCode) });
      t.serverResult.resolve({ ok: true, value: r });
    } else {
      if (t.clientSessionId !== sessionId) return 'wrong-agent';
      t.clientResult.resolve({ ok: true, value: r });
    }
    return 'delivered';
  }

  /** An agent left: every wait that involves it ends with `agent-lost`. */
  sessionClosed(sessionId: string): void {
    for (const s of this.samples.values()) {
      if (s.sessionId === sessionId) s.slot.resolve({ ok: false, failure: failure('agent-lost', 'the agent disconnected') });
    }
    for (const t of this.active.values()) {
      const lost = (role: string) => ({ ok: false as const, failure: failure('agent-lost', `the ${role} agent disconnected`) });
      if (t.serverSessionId === sessionId) {
        t.ready.resolve(lost('server'));
        t.serverResult.resolve(lost('server'));
        t.clientResult.resolve(lost('server'));
      }
      if (t.clientSessionId === sessionId) t.clientResult.resolve(lost('client'));
    }
  }
}

/** Wait for a slot, or give up after `ms` with `onTimeout`. */
export async function within<T>(p: Promise<Outcome<T>>, ms: number, onTimeout: Failure): Promise<Outcome<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Outcome<T>>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, failure: onTimeout }), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
