/**
 * The version-1 adapter (shared/protocol-v1.ts): what this release sends a v1 agent is exactly
 * v1's shape, what a v1 aggregator sends is read as this release's commands, and the two are
 * inverses, so a command means the same to an agent of either release. (That real peers of the
 * previous release accept it is test/integration/mixed-version.test.ts's job.)
 */
import { describe, expect, it } from 'vitest';
import { parseAggregatorMessage, type AggregatorMessage } from '../../shared/protocol.js';
import { downgradeToV1, helloV1, NotInV1Error, PROTOCOL_V1, upgradeV1Frame } from '../../shared/protocol-v1.js';
import { testIdentity } from '../helpers/identity.js';

const throughput = {
  kind: 'throughput',
  protocol: 'tcp',
  durationSeconds: 10,
  bitrateBitsPerSecond: 0,
  streams: 1,
  reverse: false,
  omitSeconds: 1,
} as const;
const latency = {
  kind: 'latency',
  protocol: 'udp',
  durationSeconds: 2,
  messageSizeBytes: 64,
  messagesPerSecond: 1000,
  connectSamples: 0,
} as const;
const head = { testId: 't-1', port: 5201 };

const commands: AggregatorMessage[] = [
  { type: 'serve', ...head, bindAddress: '198.18.0.2', spec: throughput, idleTimeoutSeconds: 30 },
  { type: 'probe', ...head, target: '198.18.0.2', spec: throughput },
  { type: 'serve', ...head, bindAddress: '198.18.0.2', spec: latency, idleTimeoutSeconds: 30 },
  { type: 'probe', ...head, target: '198.18.0.2', spec: latency },
  { type: 'cancel', testId: 't-1', reason: 'done' },
  { type: 'ack', resultIds: ['r-1'] },
  { type: 'sample-cpu', requestId: 'q-1', durationMs: 1000 },
] as AggregatorMessage[];

describe('protocol version 1', () => {
  it('sends a v1 agent the latency pair for sockperf and a spec without kind for iperf3', () => {
    expect(downgradeToV1(commands[0] as AggregatorMessage)).toEqual({
      type: 'serve',
      ...head,
      bindAddress: '198.18.0.2',
      spec: { protocol: 'tcp', durationSeconds: 10, bitrateBitsPerSecond: 0, streams: 1, reverse: false, omitSeconds: 1 },
      idleTimeoutSeconds: 30,
    });
    expect(downgradeToV1(commands[3] as AggregatorMessage)).toEqual({
      type: 'probe-latency',
      ...head,
      target: '198.18.0.2',
      spec: latency,
    });
    expect(downgradeToV1(commands[4] as AggregatorMessage)).toBe(commands[4]);
  });

  it.each(commands.map((c) => [`${c.type} ${'spec' in c ? c.spec.kind : ''}`, c] as const))(
    'reads back what it sent a v1 agent as the same command: %s',
    (_name, command) => {
      const wire = JSON.stringify(downgradeToV1(command));
      expect(parseAggregatorMessage(wire, upgradeV1Frame)).toEqual(command);
    },
  );

  it('refuses to send a v1 agent a kind version 1 does not have, by name', () => {
    const netperf = { type: 'probe', ...head, target: '198.18.0.2', spec: { kind: 'crr' } } as unknown as AggregatorMessage;
    expect(() => downgradeToV1(netperf)).toThrow(NotInV1Error);
    expect(() => downgradeToV1(netperf)).toThrow(/no crr tests/);
  });

  it("reads a v1 serve whose spec is not iperf3's as invalid, not as another kind", () => {
    const wire = JSON.stringify({ type: 'serve', ...head, bindAddress: '198.18.0.2', spec: latency, idleTimeoutSeconds: 30 });
    expect(() => parseAggregatorMessage(wire, upgradeV1Frame)).toThrow(/invalid message/);
  });

  it('says hello to a v1 aggregator with v1 fields only, and the deadline slack it needs', () => {
    const identity = { ...testIdentity({ nodeName: 'n1' }), futureField: 'x' };
    const hello = helloV1({ ...identity, facts: { ...identity.facts, futureFact: 1 } }, 15_000) as {
      protocolVersion: number;
      agent: Record<string, unknown> & { facts: Record<string, unknown>; limits: Record<string, unknown> };
    };
    expect(hello.protocolVersion).toBe(PROTOCOL_V1);
    expect(hello.agent).not.toHaveProperty('futureField');
    expect(hello.agent.facts).not.toHaveProperty('futureFact');
    expect(hello.agent.limits.deadlineSlackMs).toBe(15_000);
    expect(hello.agent.nodeName).toBe('n1');
  });
});
