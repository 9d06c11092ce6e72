/**
 * The table of `netmatrix` commands: for each, its usage, summary, flag tables and a handler that
 * parses and wires (the logic lives in the modules it calls). `netmatrix --help`, each command's
 * --help and the dispatch are made from this list (cli/command.ts).
 */
import { AGENT_SETTINGS, loadAgentConfig } from '../agent/config.js';
import { startAgent } from '../agent/agent.js';
import { AGGREGATOR_SETTINGS, loadAggregatorConfig } from '../aggregator/config.js';
import { buildAggregator } from '../aggregator/app.js';
import { runCompare } from '../client/compare/command.js';
import { parseRunArgs, RUN_SETTINGS, runOnAggregator, type RunIo } from '../client/run.js';
import { runDemo } from '../lab/demo.js';
import { LAB_SETTINGS, LabFlagsError, parseLabFlags } from '../lab/flags.js';
import { labDown, labStatus, labUp } from '../lab/lab.js';
import { planLab } from '../lab/plan.js';
import { startLabSession } from '../lab/session.js';
import type { LabProfile } from '../shared/lab-profile.js';
import { loadSettings, redacted, setting, splitArgs } from '../shared/settings.js';
import { createLogger } from '../sys/log.js';
import type { Command } from './command.js';

/** `run`'s switch to a lab of its own. */
const RUN_ON_LAB = {
  lab: {
    flag: 'lab',
    bare: true,
    schema: setting.bool(false),
    help: 'build a lab with the lab flags below, measure it, tear it down (root)',
  },
};

const DEMO_SETTINGS = {
  loopback: { flag: 'loopback', bare: true, schema: setting.bool(false), help: 'local agents on 127.x, no namespaces needed' },
};

const ENV_FLAGS = 'flags (each also from its variable; the flag wins)';
const LAB_FLAGS = { title: 'lab flags', table: LAB_SETTINGS };

/**
 * How long a clean stop may take before the process exits anyway, ms. Neither process holds
 * state that a cut stop loses (results wait in the agents until acknowledged; history is in
 * Prometheus), and a stop that hangs must not run into the container's SIGKILL.
 */
const STOP_DEADLINE_MS = 2500;

/** Stop cleanly on the first SIGINT or SIGTERM, within STOP_DEADLINE_MS; exit 1 if stopping fails. */
function onSignals(stop: () => Promise<void>): void {
  let stopping = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      setTimeout(() => {
        console.error(`netmatrix: stopping took over ${STOP_DEADLINE_MS} ms; exiting without waiting further`);
        process.exit(0);
      }, STOP_DEADLINE_MS).unref();
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

function profileLine(profile: LabProfile): string {
  return `pod network ${profile.podNetwork}, service proxy ${profile.serviceProxy}${profile.linkRate ? `, links ${profile.linkRate}` : ''}`;
}

async function agent(args: string[]): Promise<void> {
  const config = loadAgentConfig(process.env, args);
  const log = createLogger({ level: config.logLevel, format: config.logFormat, name: 'agent' });
  const running = await startAgent(config, log);
  onSignals(() => running.stop());
}

async function aggregator(args: string[]): Promise<void> {
  const config = loadAggregatorConfig(process.env, args);
  const log = createLogger({ level: config.logLevel, format: config.logFormat, name: 'aggregator' });
  log.info({ config: redacted(AGGREGATOR_SETTINGS, config) }, 'aggregator starting');
  const agg = await buildAggregator({ config, log, env: process.env });
  const address = await agg.listen();
  log.info({ address }, 'aggregator listening');
  onSignals(() => agg.close());
}

async function labUpCommand(args: string[]): Promise<void> {
  const { nodes, profile } = parseLabFlags(args);
  const plan = planLab(nodes, { profile });
  await labUp(plan);
  console.log(`lab up: ${plan.nodes.length} nodes, ${profileLine(profile)}; aggregator address ${plan.aggregatorIp}`);
}

/** `run`: on the aggregator named by --aggregator, or with --lab on a lab built for it and torn down after. */
async function run(args: string[]): Promise<void> {
  const io: RunIo = {
    stdout: (t: string) => process.stdout.write(t),
    stderr: (t: string) => process.stderr.write(t),
    tty: process.stderr.isTTY,
  };
  const [runArgs = [], switchArgs = [], labArgs = []] = splitArgs(args, [RUN_SETTINGS, RUN_ON_LAB, LAB_SETTINGS]);
  if (!loadSettings(RUN_ON_LAB, process.env, switchArgs).lab) {
    if (labArgs.length > 0) throw new LabFlagsError([`${labArgs[0] ?? ''} needs --lab`]);
    process.exitCode = await runOnAggregator(parseRunArgs(process.env, runArgs), io);
    return;
  }
  const o = parseRunArgs(process.env, runArgs);
  const { nodes, profile } = parseLabFlags(labArgs);
  io.stderr(`building a ${nodes}-node lab: ${profileLine(profile)}\n`);
  const session = await startLabSession(planLab(nodes, { profile }), createLogger({ level: 'warn', format: 'pretty', name: 'lab' }));
  onSignals(() => session.stop());
  try {
    process.exitCode = await runOnAggregator({ ...o, aggregator: session.url }, io, session.token);
  } finally {
    await session.stop();
  }
}

async function demo(args: string[]): Promise<void> {
  // The lab's table is first: it reports a word that neither table names, as before --loopback was a table.
  const [labArgs = [], demoArgs = []] = splitArgs(args, [LAB_SETTINGS, DEMO_SETTINGS]);
  const { nodes, profile } = parseLabFlags(labArgs);
  const { loopback } = loadSettings(DEMO_SETTINGS, process.env, demoArgs);
  return runDemo({ nodes, profile, loopback });
}

export const COMMANDS: readonly Command[] = [
  {
    name: 'agent',
    args: '[flags]',
    summary: 'run an agent (dials out to the aggregator)',
    flags: [{ title: ENV_FLAGS, table: AGENT_SETTINGS }],
    run: agent,
  },
  {
    name: 'aggregator',
    args: '[flags]',
    summary: 'run the aggregator (REST API, /metrics, agent WebSocket)',
    flags: [{ title: ENV_FLAGS, table: AGGREGATOR_SETTINGS }],
    run: aggregator,
  },
  {
    name: 'lab up',
    args: '[lab flags]',
    summary: 'build the network-namespace lab with a dataplane profile (root)',
    flags: [LAB_FLAGS],
    run: labUpCommand,
  },
  {
    name: 'lab down',
    args: '',
    summary: 'remove everything the lab made',
    flags: [],
    run: async () => void (await labDown(), console.log('lab down')),
  },
  {
    name: 'lab status',
    args: '',
    summary: 'show the lab',
    flags: [],
    run: async () => console.log(JSON.stringify(await labStatus(), null, 2)),
  },
  {
    name: 'run',
    args: '--label NAME --out FILE [flags] [--lab [lab flags]]',
    summary: 'an on-demand labelled run (iperf3 throughput, sockperf latency or both) with progress, written to a results file',
    details: 'With --lab, the same on a lab built with that profile, torn down after (root).',
    flags: [
      { title: ENV_FLAGS, table: RUN_SETTINGS },
      { title: 'on a lab', table: RUN_ON_LAB },
      { title: 'lab flags (with --lab)', table: LAB_SETTINGS },
    ],
    run,
  },
  {
    name: 'compare',
    args: 'A.json B.json [...] [flags]',
    summary: 'compare runs: tables per path and protocol, HTML report and SVG charts',
    flags: [],
    ownHelp: true,
    run: async (args) => {
      process.exitCode = await runCompare(args, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) });
    },
  },
  {
    name: 'demo',
    args: '[lab flags] [--loopback]',
    summary: 'lab + aggregator + agents, the continuous matrix (npm start)',
    flags: [LAB_FLAGS, { title: 'demo flags', table: DEMO_SETTINGS }],
    run: demo,
  },
];
