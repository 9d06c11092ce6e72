/**
 * A real Kubernetes control plane for tests: etcd and kube-apiserver, built from upstream source
 * by scripts/k8s-tools.sh, started on loopback with the RBAC authorizer, service-account tokens
 * and a static admin token, and torn down (processes and files) by `stop()`. No controllers run:
 * objects are stored, validated, defaulted and authorized exactly as on a cluster, but no pod
 * is ever scheduled.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeLoopbackPort } from './ports.js';
import { waitFor } from './requirements.js';

const TOOLS_DIR = fileURLToPath(new URL('../k8s/tools/', import.meta.url));

/** The apiserver allocates ClusterIPs from here: inside the benchmarking range, clear of the lab's own addresses. */
export const TEST_SERVICE_CIDR = '198.18.224.0/20';

export interface K8sTools {
  etcd: string;
  kubeApiserver: string;
  helm: string;
  versions: Record<string, string>;
}

/** Where scripts/k8s-tools.sh caches each binary (versions from test/k8s/tools/versions.env). */
export function k8sTools(): K8sTools {
  const versions: Record<string, string> = {};
  for (const line of readFileSync(join(TOOLS_DIR, 'versions.env'), 'utf8').split('\n')) {
    const m = /^([A-Z_]+)=(\S+)$/.exec(line.trim());
    if (m) versions[m[1] as string] = m[2] as string;
  }
  const cache = join(process.env.NETMATRIX_CACHE ?? join(homedir(), '.cache', 'netmatrix'), 'k8s-tools');
  const at = (name: string, key: string) => join(cache, `${name}-${versions[key] ?? 'unknown'}`, name);
  return {
    etcd: at('etcd', 'ETCD_VERSION'),
    kubeApiserver: at('kube-apiserver', 'KUBE_APISERVER_VERSION'),
    helm: at('helm', 'HELM_VERSION'),
    versions,
  };
}

/** Why the Kubernetes tools cannot be used, or undefined when they are all built. */
export function missingK8sTools(): string | undefined {
  const t = k8sTools();
  const missing = [t.etcd, t.kubeApiserver, t.helm].filter((p) => !existsSync(p));
  return missing.length > 0 ? `needs ${missing.join(', ')} (build them with: bash scripts/k8s-tools.sh)` : undefined;
}

export interface KubeCluster {
  /** https://127.0.0.1:PORT */
  url: string;
  /** An admin (system:masters) kubeconfig file. */
  kubeconfigPath: string;
  adminToken: string;
  /** The serving certificate's CA bundle. */
  caFile: string;
  /** A kubeconfig for `token` (e.g. a service account's), written next to the admin one. */
  kubeconfigFor(token: string, name: string): Promise<string>;
  /** Stop etcd and kube-apiserver but keep the files: an apiserver that went away. */
  stopServers(): Promise<void>;
  /** Stop everything and remove the files. */
  stop(): Promise<void>;
}

function startProcess(binary: string, args: string[], logFile: string): ChildProcess {
  const out = openSync(logFile, 'a');
  return spawn(binary, args, { stdio: ['ignore', out, out] });
}

async function stopProcess(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGTERM');
  const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function tail(file: string, lines = 30): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function getStatus(url: string, token: string, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { Authorization: `Bearer ${token}` }, ca, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

function kubeconfig(url: string, caFile: string, token: string, user: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server: url, 'certificate-authority': caFile } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: user, context: { cluster: 'test', user, namespace: 'default' } }],
    'current-context': user,
  });
}

/** Start etcd and kube-apiserver; resolves once /readyz answers 200. */
export async function startKubeCluster(): Promise<KubeCluster> {
  const why = missingK8sTools();
  if (why) throw new Error(`kube-apiserver test cluster: ${why}`);
  const tools = k8sTools();
  const dir = await mkdtemp(join(tmpdir(), 'netmatrix-kube-'));
  const [etcdClient, etcdPeer, apiPort] = [await freeLoopbackPort(), await freeLoopbackPort(), await freeLoopbackPort()];
  const adminToken = randomBytes(24).toString('hex');
  await writeFile(join(dir, 'tokens.csv'), `${adminToken},admin,admin-uid,system:masters\n`, { mode: 0o600 });
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await writeFile(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  await writeFile(join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));

  let etcd: ChildProcess | undefined;
  let apiserver: ChildProcess | undefined;
  const stopServers = async () => {
    await stopProcess(apiserver);
    await stopProcess(etcd);
  };
  const stop = async () => {
    await stopServers();
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const peerUrl = `http://127.0.0.1:${etcdPeer}`;
    etcd = startProcess(
      tools.etcd,
      [
        '--name=test',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=test=${peerUrl}`,
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      join(dir, 'etcd.log'),
    );
    const certDir = join(dir, 'certs');
    apiserver = startProcess(
      tools.kubeApiserver,
      [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${apiPort}`,
        `--cert-dir=${certDir}`,
        `--token-auth-file=${join(dir, 'tokens.csv')}`,
        '--authorization-mode=Node,RBAC',
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${join(dir, 'sa.pub')}`,
        `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
        `--service-cluster-ip-range=${TEST_SERVICE_CIDR}`,
        '--allow-privileged=true',
        '--v=0',
      ],
      join(dir, 'kube-apiserver.log'),
    );
    const caFile = join(certDir, 'apiserver.crt');
    const url = `https://127.0.0.1:${apiPort}`;
    const exited = (p: ChildProcess | undefined) => p?.exitCode !== null || p.signalCode !== null;
    await waitFor(
      async () => {
        if (exited(etcd)) throw new Error(`etcd exited:\n${await tail(join(dir, 'etcd.log'))}`);
        if (exited(apiserver)) throw new Error(`kube-apiserver exited:\n${await tail(join(dir, 'kube-apiserver.log'))}`);
        if (!existsSync(caFile)) return false;
        return (await getStatus(`${url}/readyz`, adminToken, await readFile(caFile, 'utf8'))) === 200;
      },
      90_000,
      'kube-apiserver /readyz',
      250,
    ).catch(async (e: unknown) => {
      throw new Error(`${e instanceof Error ? e.message : String(e)}\nkube-apiserver log:\n${await tail(join(dir, 'kube-apiserver.log'))}`);
    });
    const kubeconfigPath = join(dir, 'admin.kubeconfig');
    await writeFile(kubeconfigPath, kubeconfig(url, caFile, adminToken, 'admin'), { mode: 0o600 });
    return {
      url,
      kubeconfigPath,
      adminToken,
      caFile,
      async kubeconfigFor(token, name) {
        const path = join(dir, `${name}.kubeconfig`);
        await writeFile(path, kubeconfig(url, caFile, token, name), { mode: 0o600 });
        return path;
      },
      stopServers,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
