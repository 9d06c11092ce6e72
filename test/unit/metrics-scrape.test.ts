/**
 * The whole of /metrics for a seeded random matrix (12 nodes, every kind, path and protocol,
 * failures, reverse-style TCP reports, UDP loss, latency drops) against the exposition captured
 * in test/fixtures/metrics/scrape-12-nodes.prom. Any change to what a gauge computes shows here;
 * a change that is meant is recaptured with `npx tsx test/fixtures/metrics/capture.ts`.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { scrapeRandomMatrix } from '../fixtures/metrics/scrape.js';

describe('/metrics of a random matrix', () => {
  it('exports exactly the captured series and values', async () => {
    const captured = readFileSync(new URL('../fixtures/metrics/scrape-12-nodes.prom', import.meta.url), 'utf8');
    const now = await scrapeRandomMatrix();
    // Line by line, so a failure names the series that moved rather than one 350 KB string.
    const want = new Set(captured.split('\n'));
    const got = new Set(now.split('\n'));
    expect([...got].filter((l) => !want.has(l))).toEqual([]);
    expect([...want].filter((l) => !got.has(l))).toEqual([]);
  });
});
