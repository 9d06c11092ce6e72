/**
 * Builds the aggregator without listening (tests use `inject` or listen on port 0):
 * registry, broker, result store, metrics, scheduler, the REST API and the agent socket.
 */
import type { Server as TlsServer } from 'node:tls';
import fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { MAX_FRAME_BYTES, type Path, type Protocol, type TestKind } from '../shared/protocol.js';
import type { TestResult } from '../shared/result.js';
import { AgentRegistry } from './agents.js';
import { registerAgentSocket } from './agent-socket.js';
import { httpErrorHandler, registerApi } from './api.js';
import { registerPage } from './page.js';
import { Broker } from './broker.js';
import { detectDataplane } from './dataplane.js';
import { captureEnvironment } from './environment.js';
import { schedulerSettings, type AggregatorConfig } from './config.js';
import { Metrics } from './metrics.js';
import { ResultStore } from './results.js';
import { Scheduler, type SchedulerDeps } from './scheduler.js';
import { runTest, unrunnableResult } from './test-runner.js';
import { createKubeIntegration, type KubeIntegration } from './kube/integration.js';
import { loadTls, watchTls } from './tls.js';

export interface Aggregator {
  app: FastifyInstance;
  agents: AgentRegistry;
  store: ResultStore;
  scheduler: Scheduler;
  registry: Registry;
  /** Every metric; `chunks()` is what /metrics sends. */
  metrics: Metrics;
  /** The Kubernetes integration; null when Kubernetes is off. */
  kube: KubeIntegration | null;
  /** Listen and start the scheduler; resolves with the bound address. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export interface BuildOptions {
  config: AggregatorConfig;
  log: Logger;
  /** Replace the test runner (scheduler tests without iperf3). */
  runTest?: SchedulerDeps['runTest'];
  sleep?: (ms: number) => Promise<void>;
  /** The process environment (read only to find an in-cluster service account). */
  env?: Record<string, string | undefined>;
}

export async function buildAggregator({ config, log, ...o }: BuildOptions): Promise<Aggregator> {
  const tls = await loadTls(config);
  // With `https` fastify's instance is typed for an https.Server; our routes take the plain
  // instance, which has the same API.
  const app = fastify({
    ...(tls ? { https: tls } : {}),
    // pino's Logger is wider than FastifyBaseLogger; without the cast the instance type carries
    // pino's type and no longer matches the plain FastifyInstance our route modules take.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    loggerInstance: log.child({ component: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
  }) as unknown as FastifyInstance;
  // ws enforces a hard cap; frames between MAX_FRAME_BYTES and this are refused by our own
  // parser with a policy-violation close (1008), above it ws closes with 1009.
  await app.register(websocket, { options: { maxPayload: MAX_FRAME_BYTES * 4 } });
  // One error shape for every route, the API's and the page's alike.
  app.setErrorHandler(httpErrorHandler);

  const agents = new AgentRegistry();
  const broker = new Broker();
  const store = new ResultStore(config.resultsKept, { maxCells: config.matrixMaxPairs });
  const registry = new Registry();
  const kube = createKubeIntegration(config, o.env ?? {}, agents, log);
  const metrics = new Metrics(registry, store, agents, {
    perPair: config.perPairMetrics,
    perPairMaxNodes: config.perPairMaxNodes,
    kube: kube?.status ?? null,
    // Read at scrape time, when the scheduler below exists.
    staleness: () => scheduler.staleness(),
    resting: () => scheduler.restingNodes(),
  });
  // A static address (the lab's, or set by hand) wins; otherwise the ClusterIP the aggregator keeps.
  const serviceAddress = (node: string) => config.services[node] ?? kube?.serviceAddress(node);
  const topology = (node: string) => kube?.topology(node) ?? null;
  // What the cluster says first; the lab's state file when the cluster tells nothing (or there is none).
  const dataplane = async () => {
    const cluster = await kube?.dataplane();
    return cluster && cluster.kind !== 'unknown' ? { dataplane: cluster, lab: null } : detectDataplane(config.labStateFile);
  };

  // A node with no agent left is gone: forget its cells so its series leave /metrics.
  agents.on((e) => {
    if (e.kind === 'left' && !agents.hasNode(e.session.identity.nodeName)) store.removeNode(e.session.identity.nodeName);
  });

  const schedLog = log.child({ component: 'scheduler' });
  const scheduler = new Scheduler({
    agents,
    topology,
    settings: schedulerSettings(config),
    serviceAddress,
    runTest:
      o.runTest ??
      ((plan) =>
        runTest(
          plan,
          broker,
          { readyTimeoutMs: config.readyTimeoutMs, resultMarginMs: config.resultTimeoutMarginMs, serverAfterClientMs: 5000 },
          schedLog,
        )),
    unrunnable: (t, f) => unrunnableResult(t, f),
    onResult: (r: TestResult, seconds: number) => {
      r.source.topology = topology(r.source.node);
      r.target.topology = topology(r.target.node);
      store.add(r);
      metrics.recordResult(r, seconds);
      if (!r.ok)
        schedLog.debug(
          { path: r.path, protocol: r.protocol, source: r.source.node, target: r.target.node, code: r.error?.code },
          'test failed',
        );
    },
    onSweepCompleted: (path: Path, protocol: Protocol, kind: TestKind) => {
      metrics.sweepCompleted(path, protocol, kind);
      schedLog.info({ kind, path, protocol }, 'sweep completed');
    },
    // unref: an idle or pause timer must not keep the process alive after close().
    onRunStart: async (run) => {
      run.environment = await captureEnvironment(agents, broker, dataplane, topology, config.idleSampleMs);
    },
    sleep: o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms).unref())),
    now: () => new Date(),
    log: schedLog,
  });

  registerAgentSocket(app, {
    token: config.token,
    agents,
    broker,
    store,
    metrics,
    log: log.child({ component: 'agents' }),
    heartbeatMs: config.heartbeatMs,
    addressCheck: config.agentAddressCheck,
  });
  registerApi(app, {
    token: config.token,
    agents,
    store,
    scheduler,
    metrics,
    environment: () => captureEnvironment(agents, broker, dataplane, topology, 0),
    status: () => ({
      kubernetes: kube ? kube.status.view() : { source: null, components: {} },
      servicePath: servicePathStatus(agents.nodesWith('pod'), serviceAddress, kube),
    }),
    topology,
  });
  registerPage(app);

  let stopTlsWatch = () => {};
  return {
    app,
    agents,
    store,
    scheduler,
    registry,
    metrics,
    kube,
    async listen() {
      const address = await app.listen({ host: config.host, port: config.port });
      if (tls && config.tlsReloadSeconds > 0)
        stopTlsWatch = watchTls(
          app.server as unknown as TlsServer,
          config,
          tls,
          config.tlsReloadSeconds * 1000,
          log.child({ component: 'tls' }),
        );
      kube?.start();
      scheduler.start();
      return address;
    },
    async close() {
      stopTlsWatch();
      await scheduler.stop();
      await kube?.stop();
      await app.close();
    },
  };
}

/** Which pod agents have a service address, and why the others do not. */
function servicePathStatus(podNodes: readonly string[], address: (node: string) => string | undefined, kube: KubeIntegration | null) {
  const missing = podNodes.filter((n) => address(n) === undefined);
  const services = kube?.status.get('services');
  const reason =
    missing.length === 0
      ? null
      : !kube
        ? 'no service address configured (NETMATRIX_SERVICE_ADDRESSES) and the Kubernetes API is off'
        : services?.state === 'ok'
          ? 'Service not ready yet'
          : `Kubernetes API: ${services?.reason ?? services?.state ?? 'starting'}`;
  return { ready: podNodes.length - missing.length, missing, reason };
}
