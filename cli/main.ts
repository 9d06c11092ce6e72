/**
 * `netmatrix` command: parses the subcommand and wires modules; no logic lives here.
 *   netmatrix agent [flags]        run an agent
 *   netmatrix aggregator [flags]   run the aggregator
 *   netmatrix lab up|down|status   the network-namespace lab
 *   netmatrix demo                 lab + aggregator + agents, the continuous matrix (npm start)
 */
import { loadAgentConfig, AGENT_SETTINGS } from '../agent/config.js';
import { startAgent } from '../agent/agent.js';
import { AGGREGATOR_SETTINGS, loadAggregatorConfig } from '../aggregator/config.js';
import { buildAggregator } from '../aggregator/app.js';
import { redacted, SettingsError, settingsHelp } from '../shared/settings.js';
import { createLogger } from '../sys/log.js';
import { runDemo } from '../lab/demo.js';
import { LabUnsupportedError, labDown, labStatus, labUp } from '../lab/lab.js';
import { planLab } from '../lab/plan.js';
import { LabFlagsError, parseLabFlags } from '../lab/flags.js';
import { startLabSession } from '../lab/session.js';
import { parseRunArgs, RUN_SETTINGS, runOnAggregator } from '../client/run.js';
import { ApiError } from '../client/api-client.js';
import { ResultsFileError } from '../shared/results-file.js';
import { runCompare } from '../client/compare/command.js';

const USAGE = `usage: netmatrix <command>

  agent [flags]              run an agent (dials out to the aggregator)
  aggregator [flags]         run the aggregator (REST API, /metrics, agent WebSocket)
  lab up [--nodes N] [--pod-network direct|vxlan] [--service-proxy iptables|nftables|ebpf] [--link-rate RATE]
                             build the network-namespace lab with a dataplane profile (root)
  lab down                   remove everything the lab made
  lab status                 show the lab
  run --label NAME --out FILE [--aggregator URL] [--kinds throughput,latency]
      [--paths ..] [--protocols ..] [--duration S] [--omit S] [--udp-bitrate max|RATE]
      [--repeat K] [--csv FILE]
                             an on-demand labelled run with progress (iperf3 throughput, sockperf
                             latency or both), written to a results file
  run --lab [lab flags] ...  the same on a lab built with that profile, torn down after (root)
  compare A.json B.json [...] [--report FILE] [--svg-dir DIR]
                             compare runs: tables per path and protocol, HTML report and SVG charts
  demo [lab flags] [--loopback]
                             lab + aggregator + agents, the continuous matrix (npm start);
                             --loopback: local agents on 127.x, no namespaces needed

Each flag can also be set by its environment variable; --help after a command lists them.`;

function onSignals(stop: () => Promise<void>): void {
  let stopping = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      stop().then(
        () => process.exit(0),
        (e: unknown) => {
          console.error(e);
          process.exit(1);
        },
      );
    });
  }
}

/** Separate the lab's flags (and their values) from the others. */
function splitLabFlags(args: readonly string[]): [string[], string[]] {
  const lab: string[] = [];
  const other: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const name = a.split('=')[0] ?? a;
    if (['--nodes', '--pod-network', '--service-proxy', '--link-rate'].includes(name)) {
      lab.push(a);
      if (!a.includes('=') && args[i + 1] !== undefined) lab.push(args[++i] as string);
    } else other.push(a);
  }
  return [lab, other];
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'agent': {
      if (rest.includes('--help')) return void console.log(`netmatrix agent\n${settingsHelp(AGENT_SETTINGS)}`);
      const config = loadAgentConfig(process.env, rest);
      const log = createLogger({ level: config.logLevel, format: config.logFormat, name: 'agent' });
      const agent = await startAgent(config, log);
      return onSignals(() => agent.stop());
    }
    case 'aggregator': {
      if (rest.includes('--help')) return void console.log(`netmatrix aggregator\n${settingsHelp(AGGREGATOR_SETTINGS)}`);
      const config = loadAggregatorConfig(process.env, rest);
      const log = createLogger({ level: config.logLevel, format: config.logFormat, name: 'aggregator' });
      log.info({ config: redacted(AGGREGATOR_SETTINGS, config) }, 'aggregator starting');
      const agg = await buildAggregator({ config, log, env: process.env });
      const address = await agg.listen();
      log.info({ address }, 'aggregator listening');
      return onSignals(() => agg.close());
    }
    case 'lab': {
      const [sub] = rest;
      if (sub === 'up') {
        const { nodes, profile } = parseLabFlags(rest.slice(1));
        const plan = planLab(nodes, { profile });
        await labUp(plan);
        return void console.log(
          `lab up: ${plan.nodes.length} nodes, pod network ${profile.podNetwork}, service proxy ${profile.serviceProxy}${profile.linkRate ? `, links ${profile.linkRate}` : ''}; aggregator address ${plan.aggregatorIp}`,
        );
      }
      if (sub === 'down') return void (await labDown(), console.log('lab down'));
      if (sub === 'status') return void console.log(JSON.stringify(await labStatus(), null, 2));
      throw new Error('usage: netmatrix lab up|down|status');
    }
    case 'run': {
      if (rest.includes('--help'))
        return void console.log(
          `netmatrix run\n${settingsHelp(RUN_SETTINGS)}\n  --lab [--nodes N --pod-network direct|vxlan --service-proxy iptables|nftables|ebpf --link-rate RATE]\n      build a lab with that profile, measure it, tear it down (root)`,
        );
      const io = {
        stdout: (t: string) => process.stdout.write(t),
        stderr: (t: string) => process.stderr.write(t),
        tty: process.stderr.isTTY,
      };
      const [labArgs, runArgs] = splitLabFlags(rest);
      if (!rest.includes('--lab')) {
        if (labArgs.length > 0) throw new Error(`${labArgs[0] ?? ''} needs --lab`);
        process.exitCode = await runOnAggregator(parseRunArgs(process.env, runArgs), io);
        return;
      }
      const o = parseRunArgs(
        process.env,
        runArgs.filter((a) => a !== '--lab'),
      );
      const { nodes, profile } = parseLabFlags(labArgs);
      io.stderr(
        `building a ${nodes}-node lab: pod network ${profile.podNetwork}, service proxy ${profile.serviceProxy}${profile.linkRate ? `, links ${profile.linkRate}` : ''}\n`,
      );
      const session = await startLabSession(planLab(nodes, { profile }), createLogger({ level: 'warn', format: 'pretty', name: 'lab' }));
      onSignals(() => session.stop());
      try {
        process.exitCode = await runOnAggregator({ ...o, aggregator: session.url }, io, session.token);
      } finally {
        await session.stop();
      }
      return;
    }
    case 'compare':
      process.exitCode = await runCompare(rest, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) });
      return;
    case 'demo': {
      const { nodes, profile } = parseLabFlags(rest.filter((a) => a !== '--loopback'));
      return runDemo({ nodes, profile, loopback: rest.includes('--loopback') });
    }
    case undefined:
    case '--help':
    case 'help':
      return void console.log(USAGE);
    default:
      throw new Error(`unknown command "${command}"\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  // Expected problems get one line; anything else is a bug and keeps its stack.
  const expected =
    e instanceof SettingsError ||
    e instanceof ApiError ||
    e instanceof LabFlagsError ||
    e instanceof ResultsFileError ||
    e instanceof LabUnsupportedError;
  console.error(expected ? `netmatrix: ${e.message}` : e);
  process.exit(2);
});
