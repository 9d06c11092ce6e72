/**
 * Every deadline of one test, derived from its spec, for both ends: the agent kills its client
 * and its server at these, and the aggregator waits for the client's result past the same run
 * time. Both ends compute them from the spec they share, so the agent need not announce its slack.
 */
import { kindOf, type TestSpec } from './kinds/index.js';

/** How long the client may take to connect, ms, unless the agent is configured otherwise. */
export const DEFAULT_AGENT_CONNECT_TIMEOUT_MS = 3000;
/** Slack over run + connect timeout before the agent kills a test's process, ms. */
export const DEADLINE_MARGIN_MS = 5000;
/** Time the agent gets to report after its own deadline (the frame in flight), ms. */
export const AGENT_VERDICT_GRACE_MS = 2000;

/** How an agent bounds its processes; the defaults are the shipped agent's. */
export interface DeadlineOptions {
  connectTimeoutMs?: number;
  marginMs?: number;
}

/** How long past its run the agent lets a test's process live, ms: connect timeout plus margin. */
export function agentSlackMs(o: DeadlineOptions = {}): number {
  return (o.connectTimeoutMs ?? DEFAULT_AGENT_CONNECT_TIMEOUT_MS) + (o.marginMs ?? DEADLINE_MARGIN_MS);
}

/** When the agent kills the client of `spec`, ms after starting it. */
export function clientDeadlineMs(spec: TestSpec, o: DeadlineOptions = {}): number {
  return kindOf(spec).runMs(spec) + agentSlackMs(o);
}

/**
 * When the agent kills the server of `spec`, ms after starting it: the client may come as late
 * as its idle timeout, then runs as long as its own deadline allows.
 */
export function serverDeadlineMs(spec: TestSpec, idleTimeoutSeconds: number, o: DeadlineOptions = {}): number {
  return idleTimeoutSeconds * 1000 + clientDeadlineMs(spec, o);
}

/**
 * How long past the client's run the aggregator waits for its result, ms: the configured
 * margin, but never less than the agent's own slack plus a grace when the agent announced one
 * (protocol-1 agents, whose connect timeout the aggregator cannot know otherwise), so the
 * agent's verdict (iperf3-timeout, connect-timeout) is what gets recorded, not test-timeout.
 */
export function resultMarginMs(configuredMarginMs: number, announcedSlackMs: number | undefined): number {
  return announcedSlackMs === undefined ? configuredMarginMs : Math.max(configuredMarginMs, announcedSlackMs + AGENT_VERDICT_GRACE_MS);
}

/** How long after sending `probe` the aggregator waits for the client's result, ms. */
export function clientResultWaitMs(spec: TestSpec, configuredMarginMs: number, announcedSlackMs?: number): number {
  return kindOf(spec).runMs(spec) + resultMarginMs(configuredMarginMs, announcedSlackMs);
}
