/**
 * A whole lab session: the lab built, the aggregator listening on the lab bridge, and an agent
 * of each network mode on every node, connected. `netmatrix run --lab` uses it to measure a
 * lab profile in one command; stop() removes everything.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { buildAggregator, type Aggregator } from '../aggregator/app.js';
import { loadAggregatorConfig } from '../aggregator/config.js';
import { AgentProcesses, labAgentSpecs } from './agents.js';
import { labDown, labUp } from './lab.js';
import type { LabPlan } from './plan.js';

export interface LabSession {
  /** The aggregator's HTTP address. */
  url: string;
  token: string;
  aggregator: Aggregator;
  stop(): Promise<void>;
}

/** Build `plan`, start an aggregator without a background sweep, and wait for every agent. */
export async function startLabSession(plan: LabPlan, log: Logger, env: Record<string, string> = {}): Promise<LabSession> {
  const token = randomBytes(16).toString('hex');
  await labUp(plan);
  let aggregator: Aggregator | undefined;
  let agents: AgentProcesses | undefined;
  const stop = async () => {
    await agents?.stop();
    await aggregator?.close();
    await labDown();
  };
  try {
    const config = loadAggregatorConfig(
      {
        NETMATRIX_CONTINUOUS: 'false',
        NETMATRIX_LISTEN_HOST: plan.aggregatorIp,
        NETMATRIX_LISTEN_PORT: '0',
        NETMATRIX_SERVICE_ADDRESSES: plan.nodes.map((n) => `${n.name}=${n.serviceIp}`).join(','),
        ...env,
        NETMATRIX_TOKEN: token,
      },
      [],
    );
    aggregator = await buildAggregator({ config, log });
    await aggregator.listen();
    const port = (aggregator.app.server.address() as AddressInfo).port;
    agents = new AgentProcesses({ aggregatorUrl: `ws://${plan.aggregatorIp}:${port}/ws/agent`, token });
    agents.start(labAgentSpecs(plan));
    const want = plan.nodes.length * 2;
    const deadline = Date.now() + 60_000;
    while (aggregator.agents.all().length < want) {
      if (Date.now() > deadline) throw new Error(`only ${aggregator.agents.all().length} of ${want} lab agents connected within 60 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return { url: `http://${plan.aggregatorIp}:${port}`, token, aggregator, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
