/**
 * The live matrix page at `/`: a static HTML page whose script polls the read-only GET API and
 * draws the heatmaps with Vega-Lite in the browser. Read-only like the GET API, so no token.
 *
 * Only an allowlist of files is served (the page's own scripts and stylesheet, an icon, and the
 * two browser builds of vega and vega-lite); anything else under /assets is a plain 404, so no
 * request path ever reaches the file system.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * The page's folder, next to this module: `aggregator/page/` from the sources (tsx), and
 * `dist/aggregator/page/` in the image, where the Dockerfile copies it (tsc copies no assets).
 */
const PAGE_DIR = fileURLToPath(new URL('./page/', import.meta.url));

/**
 * Vega's package "exports" allow only its entry point, not `build/vega.min.js`: find the package
 * root from the entry point (the nearest package.json with the package's name) instead.
 */
function packageFile(pkg: string, file: string): string {
  const require = createRequire(import.meta.url);
  let dir = dirname(require.resolve(pkg));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === pkg) return join(dir, file);
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the package root of ${pkg}`);
    dir = up;
  }
}

interface Asset {
  /** Where the file is, resolved on first request (a missing file is a 500 naming it, not a crash at start). */
  file: () => string;
  type: string;
}

const JS = 'text/javascript; charset=utf-8';

/** URL path -> file. The only files the page serves. */
const ASSETS: Record<string, Asset> = {
  '/assets/page.js': { file: () => join(PAGE_DIR, 'page.js'), type: JS },
  '/assets/heatmap.js': { file: () => join(PAGE_DIR, 'heatmap.js'), type: JS },
  '/assets/latency.js': { file: () => join(PAGE_DIR, 'latency.js'), type: JS },
  '/assets/page.css': { file: () => join(PAGE_DIR, 'page.css'), type: 'text/css; charset=utf-8' },
  '/assets/favicon.svg': { file: () => join(PAGE_DIR, 'favicon.svg'), type: 'image/svg+xml' },
  '/assets/vega.min.js': { file: () => packageFile('vega', 'build/vega.min.js'), type: JS },
  '/assets/vega-lite.min.js': { file: () => packageFile('vega-lite', 'build/vega-lite.min.js'), type: JS },
};

/**
 * Vega compiles its expressions (signals, encoders, filters) to functions with `Function(...)`,
 * and the CSP-safe interpreter (vega-interpreter) is not part of its browser build: script-src
 * needs 'unsafe-eval'. Scripts still come only from this origin (no inline script).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'unsafe-eval'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CONTENT_SECURITY_POLICY)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer');
}

/** Serve the page at `/` and its assets under `/assets/`. */
export function registerPage(app: FastifyInstance): void {
  const cache = new Map<string, Buffer>();
  const load = async (file: string): Promise<Buffer> => {
    let body = cache.get(file);
    if (!body) {
      body = await readFile(file);
      cache.set(file, body);
    }
    return body;
  };

  app.get('/', async (_req, reply) => {
    const body = await load(join(PAGE_DIR, 'index.html'));
    return securityHeaders(reply).header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(body);
  });

  for (const [url, asset] of Object.entries(ASSETS)) {
    app.get(url, async (_req, reply) => {
      const body = await load(asset.file());
      return securityHeaders(reply).header('cache-control', 'no-cache').type(asset.type).send(body);
    });
  }
}
