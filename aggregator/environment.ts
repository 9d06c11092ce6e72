/**
 * Captures the environment a run measures: every node's facts, its idle CPU measured just
 * before the run (asked of one agent per node, all at once; skipped when idleMs is 0, e.g.
 * while tests may be running), and the detected dataplane. A node's NIC, MTU and congestion
 * control come from its host agent, the pod MTU and the pod's congestion control from its pod
 * agent: each agent reads its own network namespace.
 */
import { randomUUID } from 'node:crypto';
import { sameProcStat } from '../shared/cpu.js';
import type { Environment, NodeEnvironment } from '../shared/environment.js';
import { failure } from '../shared/errors.js';
import type { AgentRegistry } from './agents.js';
import { within, type Broker } from './broker.js';
import type { DataplaneInfo } from './dataplane.js';
import type { Topology } from '../shared/result.js';

export async function captureEnvironment(
  agents: AgentRegistry,
  broker: Broker,
  dataplane: () => Promise<DataplaneInfo>,
  topology: (node: string) => Topology | null,
  idleMs: number,
): Promise<Environment> {
  const nodes = await Promise.all(
    agents.nodes().map(async (name): Promise<NodeEnvironment> => {
      const all = agents.agentsOf(name);
      const host = all.find((s) => s.identity.mode === 'host');
      const pod = all.find((s) => s.identity.mode === 'pod');
      // /proc/stat and the kernel are the node's whichever agent reads them; prefer the host agent.
      const agent = host ?? all[0];
      if (!agent) throw new Error(`bug: node ${name} listed without an agent`);
      let idleCpu: NodeEnvironment['idleCpu'] = null;
      if (idleMs > 0) {
        const requestId = randomUUID();
        const answer = broker.expectCpuSample(requestId, agent.id);
        agent.send({ type: 'sample-cpu', requestId, durationMs: idleMs });
        const idle = await within(answer, idleMs + 3000, failure('test-timeout', 'no cpu sample'));
        if (idle.ok) idleCpu = idle.value;
      }
      const f = agent.identity.facts;
      return {
        name,
        kernel: f.kernel,
        cpuModel: f.cpuModel,
        cpuCores: f.cpuCores,
        nic: host?.identity.facts.nic ?? null,
        mtu: host?.identity.facts.mtu ?? null,
        podMtu: pod?.identity.facts.mtu ?? null,
        congestionControl: host?.identity.facts.congestionControl ?? null,
        podCongestionControl: pod?.identity.facts.congestionControl ?? null,
        podProcStatIsNodes: host && pod ? sameProcStat(host.identity.facts.procStat, pod.identity.facts.procStat) : null,
        instanceType: topology(name)?.instanceType ?? null,
        zone: topology(name)?.zone ?? null,
        agentVersions: [...new Set(all.map((s) => s.identity.agentVersion))],
        iperf3Versions: [...new Set(all.map((s) => s.identity.iperf3Version))],
        idleCpu,
      };
    }),
  );
  const dp = await dataplane();
  return { nodes, dataplane: dp.dataplane, lab: dp.lab };
}
