/** A valid agent identity for tests, with the fields a test cares about overridden. */
import type { AgentIdentity, ResultMessage } from '../../shared/protocol.js';

export function testIdentity(o: Partial<AgentIdentity> & Pick<AgentIdentity, 'nodeName'>): AgentIdentity {
  return {
    podName: `netmatrix-${o.mode ?? 'pod'}-${o.nodeName}`,
    podIp: '198.19.1.2',
    hostIp: '198.18.0.11',
    mode: 'pod',
    agentVersion: '0.1.0',
    iperf3Version: '3.12',
    iperf3Port: 5201,
    facts: { cpuModel: 'test', cpuCores: 2, kernel: '6.1.0', nic: 'eth0', mtu: 1500 },
    limits: {
      maxDurationSeconds: 60,
      maxBitrateBitsPerSecond: 0,
      maxStreams: 8,
      portMin: 5201,
      portMax: 5299,
      allowedTargetCidrs: ['198.18.0.0/15'],
      maxOmitSeconds: 60,
    },
    ...o,
  };
}

/** A well-formed client result for test `testId` (by default one the aggregator never gave). */
export function testResult(resultId: string, testId = 'never-given'): ResultMessage {
  return {
    type: 'result',
    resultId,
    testId,
    role: 'client',
    startedAtMs: 1,
    endedAtMs: 2,
    ok: false,
    error: { code: 'cancelled', message: 'x' },
  };
}
