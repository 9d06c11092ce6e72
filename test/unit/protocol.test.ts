/**
 * The wire protocol: every message round-trips through its parser, and every bad frame is
 * refused with a ProtocolError (never another exception), so the socket code can close the
 * one connection that sent it and carry on. Payloads with measurements come from captured
 * real output (iperf3 and /proc/stat fixtures), not invented numbers.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cpuReport, parseProcStat, procStatIdentity } from '../../shared/cpu.js';
import { parseIperf3Output } from '../../shared/iperf3.js';
import type { IperfResult } from '../../shared/iperf3-result.js';
import {
  CloseCode,
  MAX_FRAME_BYTES,
  parseAgentMessage,
  parseAggregatorMessage,
  PROTOCOL_VERSION,
  ProtocolError,
  type AgentIdentity,
  type AgentMessage,
  type AggregatorMessage,
} from '../../shared/protocol.js';

import { testIdentity } from '../helpers/identity.js';
import { latencySpec as udpLatencySpec, throughputSpec } from '../helpers/specs.js';

const fixture = (path: string) => readFileSync(new URL(`../fixtures/${path}`, import.meta.url), 'utf8');

function capturedIperf(): IperfResult {
  const outcome = parseIperf3Output(fixture('iperf3/tcp.json'));
  if (!outcome.ok) throw new Error(`fixture tcp.json did not parse: ${outcome.failure.message}`);
  return outcome.result;
}

const cpu = cpuReport([parseProcStat(fixture('proc-stat/busy-1.txt'), 1_000), parseProcStat(fixture('proc-stat/busy-2.txt'), 2_000)]);

const identity: AgentIdentity = testIdentity({ nodeName: 'node-1', podName: 'netmatrix-agent-abcde' });

const spec = throughputSpec();
const latencySpec = udpLatencySpec();

const hello = { type: 'hello', protocolVersion: PROTOCOL_VERSION, agent: identity } as const;

const agentMessages: Record<AgentMessage['type'] | 'failed result', AgentMessage> = {
  hello,
  ready: { type: 'ready', testId: 'test-1' },
  result: {
    type: 'result',
    resultId: '3f0c6a56-1b7e-4d3e-9a51-6c1f0f3c2b10',
    testId: 'test-1',
    role: 'client',
    startedAtMs: 1_700_000_000_000,
    endedAtMs: 1_700_000_010_000,
    ok: true,
    iperf: capturedIperf(),
    cpu,
    nic: {
      interface: 'eth0',
      idle: { startMs: 1_699_999_999_000, endMs: 1_700_000_000_000, rxBitsPerSecond: 1.5e6, txBitsPerSecond: 2e5 },
      test: { startMs: 1_700_000_000_000, endMs: 1_700_000_010_000, rxBitsPerSecond: 9.41e9, txBitsPerSecond: 1.2e8 },
    },
  },
  'failed result': {
    type: 'result',
    resultId: 'r-2',
    testId: 'test-2',
    role: 'server',
    startedAtMs: 0,
    endedAtMs: 0,
    ok: false,
    error: { code: 'port-in-use', message: 'port 5201 is already listening on this network' },
  },
  'cpu-sample': { type: 'cpu-sample', requestId: 'idle-1', window: cpu.test },
};

const aggregatorMessages: Record<AggregatorMessage['type'], AggregatorMessage> = {
  welcome: { type: 'welcome', protocolVersion: PROTOCOL_VERSION, sessionId: 'b7a4e7a2-6f0e-4a43-8d8e-3d1f1b2c9a00' },
  serve: { type: 'serve', testId: 'test-1', bindAddress: '198.19.1.2', port: 5201, spec, idleTimeoutSeconds: 10 },
  probe: {
    type: 'probe',
    testId: 'test-1',
    target: '198.18.200.1',
    port: 5201,
    spec: { ...spec, protocol: 'udp', bitrateBitsPerSecond: 1e9, streams: 4, reverse: true },
  },
  cancel: { type: 'cancel', testId: 'test-1', reason: 'server-not-ready' },
  ack: { type: 'ack', resultIds: ['r-1', 'r-2'] },
  'sample-cpu': { type: 'sample-cpu', requestId: 'idle-1', durationMs: 1000 },
};

/** Parse and return the ProtocolError, failing the test on success or on any other exception. */
function refusal(parse: (raw: string | Buffer) => unknown, raw: string | Buffer): ProtocolError {
  try {
    parse(raw);
  } catch (e) {
    expect(e, `expected a ProtocolError, got ${String(e)}`).toBeInstanceOf(ProtocolError);
    return e as ProtocolError;
  }
  throw new Error(`frame was accepted: ${raw.toString().slice(0, 200)}`);
}

const agentRefusal = (m: unknown) => refusal(parseAgentMessage, JSON.stringify(m));
const aggregatorRefusal = (m: unknown) => refusal(parseAggregatorMessage, JSON.stringify(m));

describe('round trips', () => {
  it.each(Object.entries(agentMessages))('an agent %s survives JSON and parseAgentMessage unchanged', (_name, m) => {
    expect(parseAgentMessage(JSON.stringify(m))).toEqual(m);
    expect(parseAgentMessage(Buffer.from(JSON.stringify(m)))).toEqual(m);
  });

  it.each(Object.entries(aggregatorMessages))('an aggregator %s survives JSON and parseAggregatorMessage unchanged', (_name, m) => {
    expect(parseAggregatorMessage(JSON.stringify(m))).toEqual(m);
    expect(parseAggregatorMessage(Buffer.from(JSON.stringify(m)))).toEqual(m);
  });

  it('a serve and a probe of a latency test survive: one pair carries every kind, its spec says which', () => {
    const serve = { type: 'serve', testId: 'test-3', bindAddress: '198.19.1.2', port: 5201, spec: latencySpec, idleTimeoutSeconds: 10 };
    const probe = { type: 'probe', testId: 'test-3', target: '198.18.200.1', port: 5201, spec: latencySpec };
    for (const m of [serve, probe]) expect(parseAggregatorMessage(JSON.stringify(m))).toEqual(m);
    // A latency spec with a throughput field, or a spec without its kind, is neither kind's.
    expect(refusal(parseAggregatorMessage, JSON.stringify({ ...probe, spec: { ...latencySpec, streams: 1 } })).message).toMatch(/spec/);
    const { kind: _kind, ...noKind } = spec;
    expect(refusal(parseAggregatorMessage, JSON.stringify({ ...probe, spec: noKind })).message).toMatch(/spec\.kind/);
  });

  it('a hello with a reading of /proc/stat survives, and a hello without one (agents before it) parses', () => {
    const procStat = procStatIdentity(parseProcStat(fixture('proc-stat/busy-1.txt'), 1_700_000_000_000));
    const m = { ...hello, agent: { ...identity, facts: { ...identity.facts, procStat } } };
    expect(parseAgentMessage(JSON.stringify(m))).toEqual(m);
    expect(identity.facts.procStat).toBeUndefined();
    expect(parseAgentMessage(JSON.stringify(hello))).toEqual(hello);
  });

  it("each side refuses the other side's messages", () => {
    for (const m of Object.values(aggregatorMessages))
      expect(refusal(parseAgentMessage, JSON.stringify(m)).message).toMatch(/invalid message/);
    for (const m of Object.values(agentMessages))
      expect(refusal(parseAggregatorMessage, JSON.stringify(m)).message).toMatch(/invalid message/);
  });

  it('accepts a frame of exactly MAX_FRAME_BYTES', () => {
    const text = JSON.stringify(agentMessages.ready);
    const padded = text + ' '.repeat(MAX_FRAME_BYTES - Buffer.byteLength(text));
    expect(Buffer.byteLength(padded)).toBe(MAX_FRAME_BYTES);
    expect(parseAgentMessage(padded)).toEqual(agentMessages.ready);
  });
});

describe('refusals are ProtocolErrors', () => {
  it.each(['', 'not json', '{', '{"type":"ready",}', "{'type':'ready'}", '\u0000'])('refuses non-JSON %j', (raw) => {
    expect(refusal(parseAgentMessage, raw).message).toBe('frame is not JSON');
    expect(refusal(parseAggregatorMessage, raw).message).toBe('frame is not JSON');
  });

  it.each(['null', '42', '"hello"', '[]', 'true', '{}'])('refuses JSON that is not a message: %s', (raw) => {
    expect(refusal(parseAgentMessage, raw).message).toMatch(/^invalid message/);
    expect(refusal(parseAggregatorMessage, raw).message).toMatch(/^invalid message/);
  });

  it('refuses an unknown message type', () => {
    expect(agentRefusal({ type: 'goodbye', testId: 't' }).message).toMatch(/^invalid message: type:/);
    expect(aggregatorRefusal({ type: 'reboot' }).message).toMatch(/^invalid message: type:/);
  });

  it('refuses a message with a field missing and names the field', () => {
    const { testId: _, ...noTestId } = agentMessages.ready as Extract<AgentMessage, { type: 'ready' }>;
    expect(agentRefusal(noTestId).message).toMatch(/testId/);
    const { port: __, ...noPort } = aggregatorMessages.probe as Extract<AggregatorMessage, { type: 'probe' }>;
    expect(aggregatorRefusal(noPort).message).toMatch(/port/);
  });

  it('refuses extra fields at every level (schemas are strict)', () => {
    expect(agentRefusal({ ...agentMessages.ready, extra: 1 }).message).toMatch(/extra/);
    expect(agentRefusal({ ...hello, agent: { ...identity, role: 'admin' } }).message).toMatch(/agent/);
    expect(agentRefusal({ ...hello, agent: { ...identity, limits: { ...identity.limits, sudo: true } } }).message).toMatch(/agent\.limits/);
    expect(aggregatorRefusal({ ...aggregatorMessages.serve, shell: 'rm -rf /' }).message).toMatch(/shell/);
    expect(aggregatorRefusal({ ...aggregatorMessages.probe, spec: { ...spec, extraArgs: ['--logfile', '/etc/passwd'] } }).message).toMatch(
      /spec/,
    );
  });

  it('refuses an own __proto__ key rather than letting it through', () => {
    // JSON.parse makes "__proto__" an own property; a strict schema must see it as unknown.
    expect(refusal(parseAgentMessage, '{"type":"ready","testId":"t","__proto__":{"ok":true}}')).toBeInstanceOf(ProtocolError);
  });

  it('refuses fields of the wrong type', () => {
    expect(aggregatorRefusal({ ...aggregatorMessages.serve, port: '5201' }).message).toMatch(/port/);
    expect(aggregatorRefusal({ ...aggregatorMessages.serve, port: 70000 }).message).toMatch(/port/);
    expect(aggregatorRefusal({ ...aggregatorMessages.serve, port: 5201.5 }).message).toMatch(/port/);
    expect(aggregatorRefusal({ ...aggregatorMessages.probe, spec: { ...spec, durationSeconds: 0.5 } }).message).toMatch(
      /spec\.durationSeconds/,
    );
    expect(aggregatorRefusal({ ...aggregatorMessages.probe, spec: { ...spec, durationSeconds: 0 } }).message).toMatch(
      /spec\.durationSeconds/,
    );
    expect(aggregatorRefusal({ ...aggregatorMessages.probe, spec: { ...spec, protocol: 'sctp' } }).message).toMatch(/spec\.protocol/);
    expect(aggregatorRefusal({ ...aggregatorMessages.probe, spec: { ...spec, reverse: 'yes' } }).message).toMatch(/spec\.reverse/);
    expect(aggregatorRefusal({ ...aggregatorMessages.ack, resultIds: 'r-1' }).message).toMatch(/resultIds/);
    expect(agentRefusal({ ...agentMessages.result, ok: 1 }).message).toMatch(/ok/);
    expect(agentRefusal({ ...agentMessages.result, startedAtMs: -1 }).message).toMatch(/startedAtMs/);
    expect(agentRefusal({ ...agentMessages['failed result'], error: { code: 'made-up', message: 'x' } }).message).toMatch(/error\.code/);
    const nic = (agentMessages.result as { nic: { test: object } }).nic;
    expect(agentRefusal({ ...agentMessages.result, nic: { ...nic, test: { ...nic.test, rxBitsPerSecond: -1 } } }).message).toMatch(
      /nic\.test\.rxBitsPerSecond/,
    );
    expect(agentRefusal({ ...agentMessages.result, nic: { ...nic, interface: '' } }).message).toMatch(/nic\.interface/);
    expect(agentRefusal({ ...hello, protocolVersion: '1' }).message).toMatch(/protocolVersion/);
    expect(agentRefusal({ ...hello, agent: { ...identity, mode: 'overlay' } }).message).toMatch(/agent\.mode/);
  });

  it.each(['256.0.0.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '::1', 'localhost', '1.2.3.4 ', ''])('refuses %j as an IPv4 address', (ip) => {
    expect(aggregatorRefusal({ ...aggregatorMessages.probe, target: ip }).message).toMatch(/target/);
    expect(aggregatorRefusal({ ...aggregatorMessages.serve, bindAddress: ip }).message).toMatch(/bindAddress/);
    expect(agentRefusal({ ...hello, agent: { ...identity, podIp: ip } }).message).toMatch(/agent\.podIp/);
  });

  it('refuses a frame over MAX_FRAME_BYTES before parsing it, counting bytes not characters', () => {
    const text = JSON.stringify({ ...agentMessages.ready, testId: 'x' });
    const big = text + ' '.repeat(MAX_FRAME_BYTES - Buffer.byteLength(text) + 1);
    expect(refusal(parseAgentMessage, big).message).toBe(`frame of ${MAX_FRAME_BYTES + 1} bytes exceeds ${MAX_FRAME_BYTES}`);
    expect(refusal(parseAggregatorMessage, Buffer.from(big)).message).toMatch(/exceeds/);
    // 'é' is 2 bytes in UTF-8: half as many characters already break the limit.
    const multiByte = `"${'é'.repeat(MAX_FRAME_BYTES / 2)}"`;
    expect(multiByte.length).toBeLessThan(MAX_FRAME_BYTES);
    expect(refusal(parseAgentMessage, multiByte).message).toMatch(/exceeds/);
  });

  it.each(['', 'has space', 'a/b', 'semi;colon', 'new\nline', 'ünï', '$(reboot)', 'x'.repeat(129)])('refuses the id %j', (bad) => {
    expect(agentRefusal({ ...agentMessages.ready, testId: bad }).message).toMatch(/testId/);
    expect(agentRefusal({ ...agentMessages.result, resultId: bad }).message).toMatch(/resultId/);
    expect(aggregatorRefusal({ ...aggregatorMessages.ack, resultIds: ['ok', bad] }).message).toMatch(/resultIds\.1/);
  });

  it('accepts ids made of letters, digits and . _ : - up to 128 characters', () => {
    for (const good of ['a', 'A.b_c:d-e', '0', 'x'.repeat(128), '3f0c6a56-1b7e-4d3e-9a51-6c1f0f3c2b10']) {
      expect(parseAgentMessage(JSON.stringify({ type: 'ready', testId: good }))).toEqual({ type: 'ready', testId: good });
    }
  });

  it('refuses a hello without limits', () => {
    const { limits: _, ...noLimits } = identity;
    expect(agentRefusal({ ...hello, agent: noLimits }).message).toMatch(/agent\.limits/);
  });

  it('refuses a hello with an out-of-range limit', () => {
    expect(agentRefusal({ ...hello, agent: { ...identity, limits: { ...identity.limits, maxStreams: 0 } } }).message).toMatch(
      /agent\.limits\.maxStreams/,
    );
  });

  it('refuses a hello whose /proc/stat reading is malformed', () => {
    const procStat = { btime: 1795559740, cores: 2, totalTicks: 10, busyTicks: 5, atMs: 1 };
    const withReading = (r: object) => ({ ...hello, agent: { ...identity, facts: { ...identity.facts, procStat: r } } });
    expect(parseAgentMessage(JSON.stringify(withReading(procStat))).type).toBe('hello');
    expect(agentRefusal(withReading({ ...procStat, cores: -1 })).message).toMatch(/agent\.facts\.procStat\.cores/);
    expect(agentRefusal(withReading({ ...procStat, totalTicks: 1.5 })).message).toMatch(/procStat\.totalTicks/);
    expect(agentRefusal(withReading({ ...procStat, extra: 1 })).message).toMatch(/procStat/);
  });

  it("takes a hello's congestion control when sent, and a hello without it from an older agent", () => {
    const withCc = { ...hello, agent: { ...identity, facts: { ...identity.facts, congestionControl: 'bbr' } } };
    expect(parseAgentMessage(JSON.stringify(withCc))).toEqual(withCc);
    expect('congestionControl' in identity.facts).toBe(false);
    expect(parseAgentMessage(JSON.stringify(hello))).toEqual(hello);
    for (const bad of ['', 'b b', '\u001b[31mred', 'x'.repeat(65)]) {
      const agent = { ...identity, facts: { ...identity.facts, congestionControl: bad } };
      expect(agentRefusal({ ...hello, agent }).message).toMatch(/agent\.facts\.congestionControl/);
    }
  });

  it("takes a throughput spec with or without omitSeconds (older aggregators' frames have none), within 0-60 whole seconds", () => {
    const withOmit = { ...aggregatorMessages.probe, spec: { ...spec, omitSeconds: 3 } };
    expect(parseAggregatorMessage(JSON.stringify(withOmit))).toEqual(withOmit);
    expect(parseAggregatorMessage(JSON.stringify(aggregatorMessages.probe))).not.toHaveProperty('spec.omitSeconds');
    for (const bad of [-1, 61, 1.5, '1']) {
      expect(aggregatorRefusal({ ...aggregatorMessages.serve, spec: { ...spec, omitSeconds: bad } }).message).toMatch(/spec\.omitSeconds/);
    }
  });

  it('takes a hello with or without maxOmitSeconds (agents from before omit send none)', () => {
    const { maxOmitSeconds: _, ...oldLimits } = identity.limits;
    expect(parseAgentMessage(JSON.stringify({ ...hello, agent: { ...identity, limits: oldLimits } }))).toEqual({
      ...hello,
      agent: { ...identity, limits: oldLimits },
    });
    expect(identity.limits.maxOmitSeconds).toBe(60);
    expect(agentRefusal({ ...hello, agent: { ...identity, limits: { ...identity.limits, maxOmitSeconds: 61 } } }).message).toMatch(
      /agent\.limits\.maxOmitSeconds/,
    );
  });

  it('refuses an ack of more than 10,000 ids', () => {
    const ids = Array.from({ length: 10_001 }, (_, i) => `r${i}`);
    expect(aggregatorRefusal({ type: 'ack', resultIds: ids }).message).toMatch(/resultIds/);
  });
});

describe('close codes', () => {
  it('uses 1008 for policy violations and the 4000 range for netmatrix reasons', () => {
    expect(CloseCode.policyViolation).toBe(1008);
    for (const code of [CloseCode.protocolVersionMismatch, CloseCode.duplicateAgent, CloseCode.shuttingDown]) {
      expect(code).toBeGreaterThanOrEqual(4000);
      expect(code).toBeLessThan(5000);
    }
    expect(new Set(Object.values(CloseCode)).size).toBe(Object.values(CloseCode).length);
  });
});
