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
import { labDown, labStatus, labUp } from '../lab/lab.js';
import { planLab } from '../lab/plan.js';
import { parseRunArgs, RUN_SETTINGS, runOnAggregator } from '../client/run.js';
import { ApiError } from '../client/api-client.js';
import { runCompare } from '../client/compare/command.js';

const USAGE = `usage: netmatrix <command>

  agent [flags]              run an agent (dials out to the aggregator)
  aggregator [flags]         run the aggregator (REST API, /metrics, agent WebSocket)
  lab up [--nodes N]         build the network-namespace lab (root)
  lab down                   remove everything the lab made
  lab status                 show the lab
  run --label NAME --out FILE [--aggregator URL] [--paths ..] [--protocols ..] [--duration S] [--repeat K] [--csv FILE]
                             an on-demand labelled run with progress, written to a results file
  compare A.json B.json [...] [--report FILE] [--svg-dir DIR]
                             compare runs: tables per path and protocol, HTML report and SVG charts
  demo [--nodes N] [--loopback]
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

function nodesFlag(args: string[]): number {
  const i = args.indexOf('--nodes');
  const v = i >= 0 ? Number(args[i + 1]) : 3;
  if (!Number.isInteger(v) || v < 1 || v > 50) throw new Error('--nodes must be an integer from 1 to 50');
  return v;
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
      const agg = await buildAggregator({ config, log });
      const address = await agg.listen();
      log.info({ address }, 'aggregator listening');
      return onSignals(() => agg.close());
    }
    case 'lab': {
      const [sub] = rest;
      if (sub === 'up') {
        const plan = planLab(nodesFlag(rest));
        await labUp(plan);
        return void console.log(`lab up: ${plan.nodes.length} nodes; aggregator address ${plan.aggregatorIp}`);
      }
      if (sub === 'down') return void (await labDown(), console.log('lab down'));
      if (sub === 'status') return void console.log(JSON.stringify(await labStatus(), null, 2));
      throw new Error('usage: netmatrix lab up|down|status');
    }
    case 'run': {
      if (rest.includes('--help')) return void console.log(`netmatrix run\n${settingsHelp(RUN_SETTINGS)}`);
      const o = parseRunArgs(process.env, rest);
      process.exitCode = await runOnAggregator(o, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t), tty: process.stderr.isTTY });
      return;
    }
    case 'compare':
      process.exitCode = await runCompare(rest, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) });
      return;
    case 'demo':
      return runDemo({ nodes: nodesFlag(rest), loopback: rest.includes('--loopback') });
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
  const expected = e instanceof SettingsError || e instanceof ApiError;
  console.error(expected ? `netmatrix: ${e.message}` : e);
  process.exit(2);
});
