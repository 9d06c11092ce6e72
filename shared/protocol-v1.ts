/**
 * Protocol version 1, spoken with the previous release's peers so that a rolling upgrade never
 * takes an agent offline (the evolution rule is in shared/protocol.ts). Version 1 had one
 * message pair per test kind (`serve`/`probe` for iperf3, `serve-latency`/`probe-latency` for
 * sockperf), a throughput spec without `kind`, and strict schemas on both ends: a v1 peer drops
 * the connection on any field it does not know, so what this release sends it is cut to the v1
 * shapes here. Everything else (welcome, ready, result, cancel, ack, sample-cpu, cpu-sample)
 * is the same in both versions. Delete this file when no supported release speaks version 1.
 */
import { z } from 'zod';
import { PROTOCOL_VERSION } from './protocol.js';

/** The previous protocol version, which this release still speaks. */
export const PROTOCOL_V1 = 1;

/** Every protocol version this release speaks, newest first. */
export const SPOKEN_PROTOCOL_VERSIONS: readonly number[] = [...new Set([PROTOCOL_VERSION, PROTOCOL_V1])];

type Frame = Record<string, unknown>;

function isFrame(x: unknown): x is Frame {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * A parsed-JSON frame from a version-1 aggregator, rewritten into this release's shape before
 * it is validated (so it is validated once, by this release's schema): the latency pair
 * becomes serve/probe, and a throughput spec gets its `kind`. Anything else passes unchanged.
 */
export function upgradeV1Frame(frame: unknown): unknown {
  if (!isFrame(frame)) return frame;
  switch (frame.type) {
    case 'serve-latency':
      return { ...frame, type: 'serve' };
    case 'probe-latency':
      return { ...frame, type: 'probe' };
    case 'serve':
    case 'probe':
      // In v1 these two carried only iperf3 specs; a spec that is not one fails validation.
      return isFrame(frame.spec) ? { ...frame, spec: { ...frame.spec, kind: 'throughput' } } : frame;
    default:
      return frame;
  }
}

/** A command a version-1 agent cannot take: a test kind version 1 does not have. */
export class NotInV1Error extends Error {
  override readonly name = 'NotInV1Error';
}

/**
 * This release's command as a version-1 agent expects it: a latency test on the latency pair,
 * a throughput spec without `kind`. Throws NotInV1Error for a kind version 1 does not have.
 */
export function downgradeToV1(m: { type: string; spec?: unknown }): Frame {
  if ((m.type !== 'serve' && m.type !== 'probe') || !isFrame(m.spec)) return m;
  const { kind, ...spec } = m.spec;
  if (kind === 'latency') return { ...m, type: `${m.type}-latency` };
  if (kind === 'throughput') return { ...m, spec };
  throw new NotInV1Error(`protocol version 1 has no ${String(kind)} tests`);
}

const port = z.number();

/**
 * The agent identity as version 1 knew it, frozen: parsing this release's identity with it
 * keeps exactly the fields a v1 aggregator accepts (zod's object drops the rest). Taken from
 * the release before version 2 (a7f9d3e, shared/protocol.ts AgentIdentitySchema).
 */
const V1IdentitySchema = z.object({
  nodeName: z.string(),
  podName: z.string(),
  podIp: z.string(),
  hostIp: z.string(),
  mode: z.string(),
  agentVersion: z.string(),
  iperf3Version: z.string(),
  iperf3Port: port,
  sockperfVersion: z.string().nullable().optional(),
  facts: z.object({
    cpuModel: z.string(),
    cpuCores: z.number(),
    kernel: z.string(),
    nic: z.string(),
    mtu: z.number(),
    procStat: z
      .object({ btime: z.number().nullable(), cores: z.number(), totalTicks: z.number(), busyTicks: z.number(), atMs: z.number() })
      .optional(),
    congestionControl: z.string().optional(),
  }),
  limits: z.object({
    maxDurationSeconds: z.number(),
    maxBitrateBitsPerSecond: z.number(),
    maxStreams: z.number(),
    portMin: port,
    portMax: port,
    allowedTargetCidrs: z.array(z.string()),
    deadlineSlackMs: z.number().optional(),
    maxOmitSeconds: z.number().optional(),
  }),
});

/**
 * The hello a version-1 aggregator accepts: only v1's fields, and the agent's deadline slack,
 * which a v1 aggregator needs to wait long enough for the agent's own verdict.
 */
export function helloV1(identity: unknown, deadlineSlackMs: number): Frame {
  const agent = V1IdentitySchema.parse(identity);
  return { type: 'hello', protocolVersion: PROTOCOL_V1, agent: { ...agent, limits: { ...agent.limits, deadlineSlackMs } } };
}
