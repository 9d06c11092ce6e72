/**
 * The agent's own limits on what it will run, whatever the aggregator says. Pure checks,
 * used by the agent before it spawns anything.
 */
import type { AgentLimits } from './protocol.js';
import type { LatencySpec } from './kinds/latency.js';
import type { ThroughputSpec } from './kinds/throughput.js';
import { failure, type Failure } from './errors.js';
import { iperf3RunSeconds } from './iperf3.js';
import { latencyBitsPerSecond } from './sockperf.js';

function ipv4ToInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

/** Parse "a.b.c.d/len" into a matcher. Throws on a malformed CIDR (config is validated at start). */
export function parseCidr(cidr: string): (ip: string) => boolean {
  // Decimal digits only: Number() would read "" as 0 (so "10.0.0.0/" would allow every
  // address), and also accept " 8", "0x8", "1e1" and "+8".
  const m = /^([^/]*)(?:\/(\d{1,2}))?$/.exec(cidr);
  const base = m?.[1] === undefined ? undefined : ipv4ToInt(m[1]);
  const len = m?.[2] === undefined ? 32 : Number(m[2]);
  if (base === undefined || len > 32) {
    throw new Error(`invalid IPv4 CIDR "${cidr}"`);
  }
  // 2 ** (32 - len) keeps the arithmetic in safe integers (no 32-bit sign surprises).
  const size = 2 ** (32 - len);
  const start = Math.floor(base / size) * size;
  return (ip) => {
    const n = ipv4ToInt(ip);
    return n !== undefined && n >= start && n < start + size;
  };
}

export function isValidCidr(cidr: string): boolean {
  try {
    parseCidr(cidr);
    return true;
  } catch {
    return false;
  }
}

/**
 * Why `spec` exceeds `limits`, or undefined when it is within them. The duration limit bounds
 * how long iperf3 runs: the measured seconds plus the omitted ones.
 */
export function checkSpec(limits: AgentLimits, spec: ThroughputSpec): Failure | undefined {
  const problems: string[] = [];
  const omitSeconds = spec.omitSeconds ?? 0;
  if (iperf3RunSeconds(spec) > limits.maxDurationSeconds) {
    const duration = omitSeconds > 0 ? `${spec.durationSeconds}s plus ${omitSeconds}s omitted` : `${spec.durationSeconds}s`;
    problems.push(`duration ${duration} exceeds the agent's limit of ${limits.maxDurationSeconds}s`);
  }
  const omit = checkOmit(limits, spec);
  if (omit) problems.push(omit.message);
  if (limits.maxBitrateBitsPerSecond > 0) {
    if (spec.bitrateBitsPerSecond === 0) {
      problems.push(`unlimited bitrate requested but the agent caps it at ${limits.maxBitrateBitsPerSecond} bit/s`);
    } else if (spec.bitrateBitsPerSecond > limits.maxBitrateBitsPerSecond) {
      problems.push(`bitrate ${spec.bitrateBitsPerSecond} bit/s exceeds the agent's cap of ${limits.maxBitrateBitsPerSecond}`);
    }
  }
  if (spec.streams > limits.maxStreams) {
    problems.push(`${spec.streams} streams exceed the agent's limit of ${limits.maxStreams}`);
  }
  return problems.length > 0 ? failure('spec-refused', problems.join('; ')) : undefined;
}

/**
 * Why an agent with `limits` cannot run `spec`'s omitted seconds, or undefined. An agent whose
 * hello has no maxOmitSeconds predates them: it would drop its connection on a spec that has
 * omitSeconds, so the aggregator checks this before it sends one.
 */
export function checkOmit(limits: AgentLimits, spec: ThroughputSpec): Failure | undefined {
  const omitSeconds = spec.omitSeconds ?? 0;
  if (omitSeconds === 0) return undefined;
  if (limits.maxOmitSeconds === undefined) {
    return failure('spec-refused', 'the agent predates iperf3 omit (-O): upgrade it, or run with omit 0');
  }
  if (omitSeconds > limits.maxOmitSeconds) {
    return failure('spec-refused', `omit ${omitSeconds}s exceeds the agent's limit of ${limits.maxOmitSeconds}s`);
  }
  return undefined;
}

/** Why a latency test's `spec` exceeds `limits` (duration, and its load against the bitrate cap), or undefined. */
export function checkLatencySpec(limits: AgentLimits, spec: LatencySpec): Failure | undefined {
  const problems: string[] = [];
  if (spec.durationSeconds > limits.maxDurationSeconds) {
    problems.push(`duration ${spec.durationSeconds}s exceeds the agent's limit of ${limits.maxDurationSeconds}s`);
  }
  const bps = latencyBitsPerSecond(spec);
  if (limits.maxBitrateBitsPerSecond > 0 && bps > limits.maxBitrateBitsPerSecond) {
    problems.push(`latency load ${bps} bit/s exceeds the agent's cap of ${limits.maxBitrateBitsPerSecond}`);
  }
  return problems.length > 0 ? failure('spec-refused', problems.join('; ')) : undefined;
}

export function checkPort(limits: AgentLimits, port: number): Failure | undefined {
  // Written so that NaN and fractions are refused too (every comparison with NaN is false).
  if (!Number.isInteger(port) || port < limits.portMin || port > limits.portMax) {
    return failure('spec-refused', `port ${port} is outside the agent's range ${limits.portMin}-${limits.portMax}`);
  }
  return undefined;
}

export function checkTarget(limits: AgentLimits, target: string): Failure | undefined {
  if (limits.allowedTargetCidrs.some((c) => parseCidr(c)(target))) return undefined;
  return failure('spec-refused', `target ${target} is outside the agent's allowed ranges (${limits.allowedTargetCidrs.join(', ')})`);
}
