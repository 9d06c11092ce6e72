/**
 * `netmatrix run` against a real aggregator listening on loopback: the happy path writes a
 * results file that compare accepts; an unreachable aggregator and a wrong token are clear errors.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAggregator, type Aggregator } from '../../aggregator/app.js';
import { loadAggregatorConfig } from '../../aggregator/config.js';
import { ApiError } from '../../client/api-client.js';
import { parseRunArgs, runOnAggregator } from '../../client/run.js';
import { parseResultsFile } from '../../shared/results-file.js';

const TOKEN = 'client-run-token';

describe('netmatrix run against a real aggregator', () => {
  let agg: Aggregator;
  let url: string;
  let dir: string;
  const out: string[] = [];
  const io = { stdout: (s: string) => void out.push(s), stderr: (s: string) => void out.push(s), tty: false };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'netmatrix-run-'));
    agg = await buildAggregator({
      config: loadAggregatorConfig(
        {
          NETMATRIX_TOKEN: TOKEN,
          NETMATRIX_CONTINUOUS: 'false',
          NETMATRIX_LISTEN_HOST: '127.0.0.1',
          NETMATRIX_LISTEN_PORT: '0',
          NETMATRIX_LAB_STATE_FILE: join(tmpdir(), 'no-such-lab.json'),
        },
        [],
      ),
      log: pino({ level: 'silent' }),
    });
    await agg.listen();
    url = `http://127.0.0.1:${(agg.app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => agg?.close());

  it('writes a results file that compare can read, with the spec and environment of the run', async () => {
    const o = parseRunArgs({ NETMATRIX_TOKEN: TOKEN }, [
      '--aggregator',
      url,
      '--label',
      'empty',
      '--out',
      join(dir, 'empty.json'),
      '--repeat',
      '2',
      '--poll-ms',
      '50',
    ]);
    expect(await runOnAggregator(o, io)).toBe(0);
    const file = parseResultsFile('empty.json', await readFile(join(dir, 'empty.json'), 'utf8'));
    expect(file).toMatchObject({
      label: 'empty',
      source: url,
      spec: { kinds: ['throughput'], repeat: 2, paths: ['node', 'pod', 'service'] },
      results: [],
    });
    expect(file.environment.dataplane.kind).toBe('unknown');
    expect(out.join('')).toContain('wrote ');
  });

  it('asks the aggregator for the kinds of test given, and records them in the results file', async () => {
    const before = out.length;
    const o = parseRunArgs({ NETMATRIX_TOKEN: TOKEN }, [
      '--aggregator',
      url,
      '--label',
      'latency',
      '--kinds',
      'latency',
      '--paths',
      'pod',
      '--protocols',
      'udp',
      '--out',
      join(dir, 'latency.json'),
      '--poll-ms',
      '50',
    ]);
    expect(await runOnAggregator(o, io)).toBe(0);
    const file = parseResultsFile('latency.json', await readFile(join(dir, 'latency.json'), 'utf8'));
    expect(file.spec).toMatchObject({ kinds: ['latency'], paths: ['pod'], protocols: ['udp'] });
    const printed = out.slice(before).join('');
    expect(printed).toContain('"latency": pod x udp, latency, repeat 1');
    // No agents here: the summary says why there is no latency figure.
    expect(printed).toContain('  pod     udp  latency: no tests (no two agents with sockperf?)');
  });

  it('says the token was refused, in one line', async () => {
    const o = parseRunArgs({ NETMATRIX_TOKEN: 'wrong' }, ['--aggregator', url, '--label', 'x', '--out', join(dir, 'x.json')]);
    await expect(runOnAggregator(o, io)).rejects.toThrow(
      new ApiError('POST /api/runs: the aggregator refused the token (set --token or NETMATRIX_TOKEN)'),
    );
  });

  it('says the aggregator cannot be reached, naming the address', async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const o = parseRunArgs({ NETMATRIX_TOKEN: TOKEN }, [
      '--aggregator',
      `http://127.0.0.1:${port}`,
      '--label',
      'x',
      '--out',
      join(dir, 'x.json'),
    ]);
    await expect(runOnAggregator(o, io)).rejects.toThrow(`cannot reach the aggregator at http://127.0.0.1:${port} (ECONNREFUSED)`);
  });
});
