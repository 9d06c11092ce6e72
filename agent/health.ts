/**
 * The agent's probe endpoint for the kubelet (off unless a port is set): GET /healthz answers
 * 200 while the process runs; GET /readyz answers 200 while the agent holds a session with the
 * aggregator and 503 otherwise. Plain node:http: two fixed answers need no framework.
 */
import { createServer, type Server } from 'node:http';

export async function startHealthServer(port: number, connected: () => boolean): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const send = (code: number, body: object) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET') return send(405, { error: 'method-not-allowed' });
    if (path === '/healthz') return send(200, { ok: true });
    if (path === '/readyz')
      return connected() ? send(200, { ok: true }) : send(503, { ok: false, reason: 'not connected to the aggregator' });
    return send(404, { error: 'not-found' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new Error(`cannot serve /healthz on port ${port}: ${e.code ?? e.message}`)));
    server.listen(port, () => resolve());
  });
  return server;
}
