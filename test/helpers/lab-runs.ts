/** What the lab tests that drive an in-process aggregator share: its agents, and on-demand runs waited to their end. */
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import type { Aggregator } from '../../aggregator/app.js';
import { AgentProcesses, labAgentSpecs } from '../../lab/agents.js';
import type { LabPlan } from '../../lab/plan.js';
import type { TestResult } from '../../shared/result.js';
import { waitFor } from './requirements.js';

/**
 * Start the lab's six agents against `agg` and wait until all are connected. The wait is long:
 * six tsx processes compile at once, which takes a loaded 2-core machine most of a minute.
 */
export async function startLabAgents(plan: LabPlan, agg: Aggregator, token: string, logLevel = 'error'): Promise<AgentProcesses> {
  const port = (agg.app.server.address() as AddressInfo).port;
  const agents = new AgentProcesses({ aggregatorUrl: `ws://${plan.aggregatorIp}:${port}/ws/agent`, token, logLevel });
  agents.start(labAgentSpecs(plan));
  await waitFor(() => agg.agents.all().length === 6, 120_000, 'six agents to connect');
  return agents;
}

/** POST /api/runs with `body`, then wait for the run to finish; its results. */
export async function runOnDemand(
  agg: Aggregator,
  token: string,
  body: { label: string } & Record<string, unknown>,
): Promise<TestResult[]> {
  const res = await agg.app.inject({ method: 'POST', url: '/api/runs', headers: { authorization: `Bearer ${token}` }, payload: body });
  expect(res.statusCode, res.body).toBe(202);
  const { id } = res.json<{ id: string }>();
  return waitFor(
    async () => {
      const r = (await agg.app.inject({ method: 'GET', url: `/api/runs/${id}` })).json<{ status: string; results: TestResult[] }>();
      return r.status === 'done' ? r.results : undefined;
    },
    180_000,
    `run ${body.label} to finish`,
    250,
  );
}
