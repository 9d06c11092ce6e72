/**
 * `netmatrix run --udp-bitrate max` end to end on loopback: a real aggregator, three real host
 * agents on 127.0.1.1-3 running real iperf3, one of them with a bitrate cap. Uncapped UDP runs
 * (iperf3 -b 0) far above the sweep's 1 Gbit/s cap with its omitted second left out; the capped
 * agent refuses it, and `run` says so and why.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../agent/agent.js';
import { loadAgentConfig } from '../../agent/config.js';
import { AGENT_SOCKET_PATH } from '../../aggregator/agent-socket.js';
import { buildAggregator, type Aggregator } from '../../aggregator/app.js';
import { loadAggregatorConfig } from '../../aggregator/config.js';
import { parseRunArgs, runOnAggregator } from '../../client/run.js';
import { receiverUdp } from '../../shared/result.js';
import { parseResultsFile } from '../../shared/results-file.js';
import { describeWith, waitFor } from '../helpers/requirements.js';

const TOKEN = 'udp-max-token';
/** The agents' iperf3 ports: away from the executor tests' 5201-5399. */
const PORT_MIN = 5461;
/** The aggregator's default UDP rate: what an uncapped test must beat. */
const SWEEP_UDP_CAP = 1_000_000_000;
const log = pino({ level: 'silent' });

describeWith({ binaries: ['iperf3'] }, 'netmatrix run --udp-bitrate max against real agents on loopback', () => {
  let agg: Aggregator;
  const agents: RunningAgent[] = [];
  let dir = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'netmatrix-udp-max-'));
    agg = await buildAggregator({
      config: loadAggregatorConfig(
        {
          NETMATRIX_TOKEN: TOKEN,
          NETMATRIX_CONTINUOUS: 'false',
          NETMATRIX_LISTEN_HOST: '127.0.0.1',
          NETMATRIX_LISTEN_PORT: '0',
          NETMATRIX_IDLE_SAMPLE_MS: '0',
          NETMATRIX_ROUND_PAUSE_MS: '0',
          NETMATRIX_LAB_STATE_FILE: join(tmpdir(), 'no-such-lab.json'),
        },
        [],
      ),
      log,
    });
    await agg.listen();
    const ws = `ws://127.0.0.1:${(agg.app.server.address() as AddressInfo).port}${AGENT_SOCKET_PATH}`;
    // loop-c caps its tests at 1 Gbit/s, as an operator's agents.maxBitrateBitsPerSecond would.
    for (const [i, name] of ['loop-a', 'loop-b', 'loop-c'].entries()) {
      const ip = `127.0.1.${i + 1}`;
      const env = {
        NETMATRIX_TOKEN: TOKEN,
        NETMATRIX_AGGREGATOR_URL: ws,
        NETMATRIX_NODE_NAME: name,
        NETMATRIX_POD_NAME: `netmatrix-host-${name}`,
        NETMATRIX_NETWORK_MODE: 'host',
        NETMATRIX_POD_IP: ip,
        NETMATRIX_HOST_IP: ip,
        NETMATRIX_IPERF3_PORT: String(PORT_MIN + i),
        NETMATRIX_PORT_MIN: String(PORT_MIN),
        NETMATRIX_PORT_MAX: String(PORT_MIN + 2),
        NETMATRIX_ALLOWED_TARGET_CIDRS: '127.0.0.0/8',
        NETMATRIX_NIC: 'none',
        NETMATRIX_LOG_LEVEL: 'error',
        ...(name === 'loop-c' ? { NETMATRIX_MAX_BITRATE_BITS_PER_SECOND: String(SWEEP_UDP_CAP) } : {}),
      };
      agents.push(await startAgent(loadAgentConfig(env, []), log));
    }
    await waitFor(() => agg.agents.count('host') === 3, 15_000, 'three agents to connect', 50);
  }, 30_000);

  afterAll(async () => {
    for (const a of agents) await a.stop();
    await agg?.close();
  });

  it('measures unlimited UDP far above the sweep cap after 1 s omitted, and names the capped agent’s refusal', async () => {
    const out: string[] = [];
    const io = { stdout: (s: string) => void out.push(s), stderr: (s: string) => void out.push(s), tty: false };
    const file = join(dir, 'udp-max.json');
    const url = `http://127.0.0.1:${(agg.app.server.address() as AddressInfo).port}`;
    const o = parseRunArgs({ NETMATRIX_TOKEN: TOKEN }, [
      ...['--aggregator', url, '--label', 'udp-max', '--out', file, '--poll-ms', '100'],
      ...['--paths', 'node', '--protocols', 'udp', '--duration', '2', '--udp-bitrate', 'max'],
    ]);
    expect(o.udpBitrate).toBe(0);
    expect(await runOnAggregator(o, io)).toBe(0);
    const text = out.join('');

    const run = parseResultsFile('udp-max.json', await readFile(file, 'utf8'));
    expect(run.spec).toMatchObject({ protocols: ['udp'], durationSeconds: 2, udpBitrateBitsPerSecond: 0, omitSeconds: 1 });
    expect(run.results).toHaveLength(6);
    const pair = (r: (typeof run.results)[number]) => `${r.source.node}->${r.target.node}`;

    const measured = run.results.filter((r) => r.ok);
    expect(measured.map(pair).sort()).toEqual(['loop-a->loop-b', 'loop-b->loop-a']);
    for (const r of measured) {
      expect(r.spec).toEqual({ protocol: 'udp', durationSeconds: 2, bitrateBitsPerSecond: 0, streams: 1, reverse: false, omitSeconds: 1 });
      // What arrived, per second: a capped test could not pass 1 Gbit/s.
      expect(r.throughputBitsPerSecond, pair(r)).toBeGreaterThan(SWEEP_UDP_CAP);
      expect(r.throughputBitsPerSecond).toBe(r.iperf?.receivedBitsPerSecond);
      // iperf3 ran the omitted second too, and its figures cover the 2 measured ones only.
      expect(Date.parse(r.endedAt) - Date.parse(r.startedAt)).toBeGreaterThanOrEqual(3000);
      const server = r.serverIperf;
      expect(((server?.receivedBytes ?? 0) * 8) / (server?.receivedBitsPerSecond ?? Infinity)).toBeLessThan(2.5);
      // The loss is the receiver's own (the server's report); the client's copy counts the omitted second.
      expect(server?.udp).toBeDefined();
      expect(receiverUdp(r)).toEqual(server?.udp);
      expect(r.iperf?.udp).toBeUndefined();
    }

    const refused = run.results.filter((r) => !r.ok);
    expect(refused.map(pair).sort()).toEqual(['loop-a->loop-c', 'loop-b->loop-c', 'loop-c->loop-a', 'loop-c->loop-b']);
    const reason = 'unlimited bitrate requested but the agent caps it at 1000000000 bit/s';
    for (const r of refused) expect(r.error).toEqual({ code: 'spec-refused', message: reason });

    expect(text).toContain('throughput (2 s tests after 1 s omitted, UDP unlimited)');
    expect(text).toMatch(/ {2}node {4}udp +\d+\.\d\d Gbit\/s median of 2, loss \d+\.\d\d%, 4 failed\n/);
    expect(text).toContain(`failed tests, by reason:\n  4 x spec-refused: ${reason} (throughput node udp `);
  }, 60_000);
});
