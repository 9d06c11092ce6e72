/**
 * The aggregator's TLS certificate: read at start, and re-read while it runs so that a rotated
 * certificate (cert-manager, or the chart's Secret updated by hand) is served without a
 * restart. Kubernetes updates a mounted Secret by swapping a symlink, which file watchers miss,
 * so the files are polled and compared by content. A new pair is checked before it is used: a
 * half-written or mismatched pair is logged and the running certificate kept. Connections
 * already open keep the certificate they were made with.
 */
import { readFile } from 'node:fs/promises';
import { createSecureContext, type Server as TlsServer } from 'node:tls';
import type { Logger } from 'pino';
import type { AggregatorConfig } from './config.js';

export interface TlsPair {
  cert: Buffer;
  key: Buffer;
}

type TlsFiles = Pick<AggregatorConfig, 'tlsCertFile' | 'tlsKeyFile'>;

/** The certificate and key to serve TLS with, or null for plain HTTP. Throws one clear line on a half or unreadable pair. */
export async function loadTls(config: TlsFiles): Promise<TlsPair | null> {
  const { tlsCertFile, tlsKeyFile } = config;
  if (!tlsCertFile && !tlsKeyFile) return null;
  if (!tlsCertFile || !tlsKeyFile) throw new Error('NETMATRIX_TLS_CERT_FILE and NETMATRIX_TLS_KEY_FILE must be set together');
  const read = async (what: string, file: string) => {
    try {
      return await readFile(file);
    } catch (e) {
      throw new Error(`cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  };
  return { cert: await read('NETMATRIX_TLS_CERT_FILE', tlsCertFile), key: await read('NETMATRIX_TLS_KEY_FILE', tlsKeyFile) };
}

/**
 * Poll the certificate files every `intervalMs` and serve a changed, valid pair from then on.
 * Returns a function that stops polling.
 */
export function watchTls(server: TlsServer, files: TlsFiles, current: TlsPair, intervalMs: number, log: Logger): () => void {
  let served = current;
  let lastError = '';
  let busy = false;
  const check = async () => {
    if (busy) return;
    busy = true;
    try {
      const next = await loadTls(files);
      if (!next || (next.cert.equals(served.cert) && next.key.equals(served.key))) return;
      // Throws on a key that does not match the certificate, or PEM that does not parse.
      createSecureContext(next);
      server.setSecureContext(next);
      served = next;
      lastError = '';
      log.info('tls certificate reloaded');
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      // Once per distinct problem: a file mid-rotation must not fill the log every interval.
      if (message !== lastError) log.error({ err: message }, 'tls certificate not reloaded, still serving the previous one');
      lastError = message;
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void check(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
