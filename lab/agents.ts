/**
 * Agents of the lab as real processes: a host-network agent in each node namespace and a pod
 * agent in each pod namespace (or, without namespaces, plain local processes on loopback
 * addresses). Used by the demo, the integration tests and the benchmarks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { LabPlan } from './plan.js';
import { netnsExec } from './plan.js';

/** The argv that runs this checkout's `netmatrix` CLI: the compiled one, or the sources via tsx. */
export function netmatrixCommand(): string[] {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    return [process.execPath, '--import', tsx, fileURLToPath(new URL('../cli/main.ts', import.meta.url))];
  }
  return [process.execPath, fileURLToPath(new URL('../cli/main.js', import.meta.url))];
}

export interface AgentSpec {
  /** Network namespace to run in, or undefined for this one. */
  netns?: string;
  nodeName: string;
  mode: 'pod' | 'host';
  podIp: string;
  hostIp: string;
  iperf3Port?: number;
  /**
   * cgroup v2 folder to run in (the lab's ebpf Service proxy translates the sockets of its
   * processes); undefined to stay in this process's cgroup. The agent's iperf3 children inherit it.
   */
  cgroup?: string;
}

export interface LabAgentOptions {
  aggregatorUrl: string;
  token: string;
  logLevel?: string;
  /** Extra environment for every agent (e.g. limits). */
  env?: Record<string, string>;
  /** The argv that runs `netmatrix` (default: this checkout's, netmatrixCommand()); e.g. an older release's. */
  command?: readonly string[];
}

/**
 * The two agents of every node of a lab plan. With the ebpf Service proxy both run in the lab's
 * cgroup: connect-time translation applies to every socket of a node, host network included,
 * as with Cilium's socket load balancing on the root cgroup.
 */
export function labAgentSpecs(plan: LabPlan): AgentSpec[] {
  const cgroup = plan.cgroup ? { cgroup: plan.cgroup } : {};
  return plan.nodes.flatMap((n) => [
    { netns: n.netns, nodeName: n.name, mode: 'host' as const, podIp: n.hostIp, hostIp: n.hostIp, ...cgroup },
    { netns: n.podNetns, nodeName: n.name, mode: 'pod' as const, podIp: n.podIp, hostIp: n.hostIp, ...cgroup },
  ]);
}

/**
 * Agents as local processes on loopback, for machines without network namespaces: each on
 * its own 127.x address and iperf3 port (they share one network namespace, so one port each).
 */
export function loopbackAgentSpecs(nodes: number): AgentSpec[] {
  return Array.from({ length: nodes }, (_, i) => [
    { nodeName: `local${i + 1}`, mode: 'host' as const, podIp: `127.0.1.${i + 1}`, hostIp: `127.0.1.${i + 1}`, iperf3Port: 5201 + 2 * i },
    { nodeName: `local${i + 1}`, mode: 'pod' as const, podIp: `127.0.2.${i + 1}`, hostIp: `127.0.1.${i + 1}`, iperf3Port: 5202 + 2 * i },
  ]).flat();
}

/** `netmatrix agent` and the flags that say who the agent of `s` is (a process or a container). */
export function agentFlags(s: AgentSpec, podName = `netmatrix-${s.mode}-${s.nodeName}`): string[] {
  const flags = ['agent', '--node-name', s.nodeName, '--pod-name', podName, '--mode', s.mode, '--pod-ip', s.podIp, '--host-ip', s.hostIp];
  if (s.iperf3Port) flags.push('--iperf3-port', String(s.iperf3Port));
  return flags;
}

/** One agent process and the spec it was started from (so it can be started again). */
interface RunningAgentProcess {
  spec: AgentSpec;
  child: ChildProcess;
}

export class AgentProcesses {
  private readonly children: RunningAgentProcess[] = [];

  constructor(private readonly o: LabAgentOptions) {}

  /**
   * Spawn an agent per spec. Throws if a spec's cgroup cannot take its agent (that agent is
   * killed; those started before keep running until stop()).
   */
  start(specs: readonly AgentSpec[]): void {
    for (const s of specs) this.children.push({ spec: s, child: this.spawnAgent(s) });
  }

  private spawnAgent(s: AgentSpec): ChildProcess {
    const argv = [...(this.o.command ?? netmatrixCommand()), ...agentFlags(s)];
    const full = s.netns ? netnsExec(s.netns, argv) : argv;
    const child = spawn(full[0] as string, full.slice(1), {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: {
        ...process.env,
        NETMATRIX_AGGREGATOR_URL: this.o.aggregatorUrl,
        NETMATRIX_TOKEN: this.o.token,
        NETMATRIX_LOG_LEVEL: this.o.logLevel ?? 'error',
        NETMATRIX_ALLOWED_TARGET_CIDRS: '198.18.0.0/15,127.0.0.0/8',
        ...this.o.env,
      },
    });
    // Into the cgroup before the agent has even loaded its modules, long before it spawns an
    // iperf3 (which inherits the cgroup) or opens a socket the Service proxy must see.
    if (s.cgroup !== undefined && child.pid !== undefined) {
      try {
        writeFileSync(join(s.cgroup, 'cgroup.procs'), String(child.pid));
      } catch (e) {
        child.kill('SIGKILL');
        throw new Error(`cannot put the ${s.mode} agent of ${s.nodeName} into cgroup ${s.cgroup}: ${(e as Error).message}`);
      }
    }
    return child;
  }

  private entry(nodeName: string, mode: AgentSpec['mode']): RunningAgentProcess {
    const e = this.children.find((c) => c.spec.nodeName === nodeName && c.spec.mode === mode);
    if (!e) throw new Error(`no ${mode} agent of ${nodeName} was started`);
    return e;
  }

  /**
   * The pid of the running `mode` agent of `nodeName` (`ip netns exec` execs the agent, so it is
   * the agent's own process), or undefined when it has exited.
   */
  pid(nodeName: string, mode: AgentSpec['mode']): number | undefined {
    const { child } = this.entry(nodeName, mode);
    return child.exitCode === null && child.signalCode === null ? child.pid : undefined;
  }

  /** Send `signal` to the `mode` agent of `nodeName` and resolve once it has exited. */
  async kill(nodeName: string, mode: AgentSpec['mode'], signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const { child } = this.entry(nodeName, mode);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }

  /** Start the `mode` agent of `nodeName` again from its spec (after kill, or a crash). */
  restart(nodeName: string, mode: AgentSpec['mode']): void {
    const e = this.entry(nodeName, mode);
    if (e.child.exitCode === null && e.child.signalCode === null) throw new Error(`the ${mode} agent of ${nodeName} is still running`);
    e.child = this.spawnAgent(e.spec);
  }

  get pids(): number[] {
    return this.children.flatMap(({ child: c }) => (c.pid !== undefined && c.exitCode === null ? [c.pid] : []));
  }

  /** SIGTERM every agent, SIGKILL those still there after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    await Promise.all(
      this.children.map(
        ({ child: c }) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const timer = setTimeout(() => c.kill('SIGKILL'), graceMs);
            c.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            c.kill('SIGTERM');
          }),
      ),
    );
    this.children.length = 0;
  }
}
