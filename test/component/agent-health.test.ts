/** The agent's probe endpoint on a real port: alive always, ready only while connected. */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Server } from 'node:http';
import { startHealthServer } from '../../agent/health.js';

let connected = false;
let server: Server;
let base: string;

beforeAll(async () => {
  server = await startHealthServer(0, () => connected);
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

it('answers /healthz while alive and /readyz only while connected to the aggregator', async () => {
  expect((await fetch(`${base}/healthz`)).status).toBe(200);
  const notReady = await fetch(`${base}/readyz`);
  expect(notReady.status).toBe(503);
  expect(await notReady.json()).toEqual({ ok: false, reason: 'not connected to the aggregator' });
  connected = true;
  expect((await fetch(`${base}/readyz`)).status).toBe(200);
  expect((await fetch(`${base}/other`)).status).toBe(404);
  expect((await fetch(`${base}/healthz`, { method: 'POST' })).status).toBe(405);
});

it('says which port it could not take', async () => {
  const port = (server.address() as AddressInfo).port;
  await expect(startHealthServer(port, () => true)).rejects.toThrow(`cannot serve /healthz on port ${port}: EADDRINUSE`);
});
