/**
 * Configuration loading with the real aggregator and agent tables: defaults, environment,
 * flags over environment, every problem at once, secrets never shown, a frozen result; and
 * composing tables (splitArgs, flag-only settings, the strict rules of the lab's flags).
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AGENT_SETTINGS } from '../../agent/config.js';
import { AGGREGATOR_SETTINGS, loadAggregatorConfig } from '../../aggregator/config.js';
import {
  loadSettings,
  redacted,
  setting,
  SettingsError,
  settingsHelp,
  splitArgs,
  type FlagRules,
  type SettingsTable,
} from '../../shared/settings.js';

const TOKEN = 'sup3r-s3cret-t0ken';

/** Load and return the SettingsError, failing the test if loading succeeds. */
function problemsOf<T extends SettingsTable>(table: T, env: Record<string, string>, argv: string[] = [], rules?: FlagRules): SettingsError {
  try {
    loadSettings(table, env, argv, rules);
  } catch (e) {
    expect(e).toBeInstanceOf(SettingsError);
    return e as SettingsError;
  }
  throw new Error('configuration was accepted');
}

describe('aggregator settings', () => {
  it('defaults everything but the token', () => {
    const c = loadSettings(AGGREGATOR_SETTINGS, { NETMATRIX_TOKEN: TOKEN });
    expect(c).toMatchObject({
      host: '0.0.0.0',
      port: 8080,
      token: TOKEN,
      continuous: true,
      paths: ['node', 'pod', 'service'],
      protocols: ['tcp', 'udp'],
      durationSeconds: 10,
      tcpBitrate: 0,
      udpBitrate: 1_000_000_000,
      streams: 1,
      concurrency: 1,
      perPairMetrics: 'auto',
      services: {},
      logLevel: 'info',
      logFormat: 'json',
    });
  });

  it('requires the token', () => {
    expect(problemsOf(AGGREGATOR_SETTINGS, {}).problems).toEqual([expect.stringMatching(/^NETMATRIX_TOKEN not set: /)]);
  });

  it('reads the environment, coercing numbers, booleans and lists', () => {
    const c = loadAggregatorConfig(
      {
        NETMATRIX_TOKEN: TOKEN,
        NETMATRIX_LISTEN_PORT: '9090',
        NETMATRIX_CONTINUOUS: 'false',
        NETMATRIX_PATHS: ' pod , node ',
        NETMATRIX_PROTOCOLS: 'udp',
        NETMATRIX_PER_PAIR_METRICS: 'never',
      },
      [],
    );
    expect(c.port).toBe(9090);
    expect(c.continuous).toBe(false);
    expect(c.paths).toEqual(['pod', 'node']);
    expect(c.protocols).toEqual(['udp']);
    expect(c.perPairMetrics).toBe('never');
  });

  it.each([
    ['true', true],
    ['1', true],
    ['yes', true],
    ['false', false],
    ['0', false],
    ['no', false],
  ])('reads the boolean %j as %s', (raw, value) => {
    expect(loadAggregatorConfig({ NETMATRIX_TOKEN: TOKEN, NETMATRIX_CONTINUOUS: raw }, []).continuous).toBe(value);
  });

  it('treats an empty environment variable as unset', () => {
    expect(loadAggregatorConfig({ NETMATRIX_TOKEN: TOKEN, NETMATRIX_LISTEN_PORT: '' }, []).port).toBe(8080);
  });

  it('lets flags override the environment, as --flag=value and as --flag value', () => {
    const env = {
      NETMATRIX_TOKEN: TOKEN,
      NETMATRIX_LISTEN_PORT: '9090',
      NETMATRIX_TEST_DURATION_SECONDS: '30',
      NETMATRIX_CONTINUOUS: 'true',
    };
    const c = loadAggregatorConfig(env, ['--port=7070', '--test-duration-seconds', '5', '--continuous', 'false']);
    expect(c.port).toBe(7070);
    expect(c.durationSeconds).toBe(5);
    expect(c.continuous).toBe(false);
  });

  it('reads a bare boolean flag as true', () => {
    const c = loadAggregatorConfig({ NETMATRIX_TOKEN: TOKEN, NETMATRIX_CONTINUOUS: 'false' }, ['--continuous']);
    expect(c.continuous).toBe(true);
    const last = loadAggregatorConfig({ NETMATRIX_TOKEN: TOKEN, NETMATRIX_CONTINUOUS: 'false' }, ['--continuous', '--port', '1234']);
    expect(last.continuous).toBe(true);
    expect(last.port).toBe(1234);
  });

  // Only boolean switches may be given bare: `--token --port 1` must not mean token "true".
  it('refuses a string flag given without a value instead of reading it as "true"', () => {
    const e = problemsOf(AGGREGATOR_SETTINGS, {}, ['--token', '--port', '1']);
    expect(e.problems).toContain('--token needs a value');
  });

  it('reads a bare boolean switch as true', () => {
    expect(loadSettings(AGGREGATOR_SETTINGS, { NETMATRIX_TOKEN: TOKEN, NETMATRIX_CONTINUOUS: 'false' }, ['--continuous']).continuous).toBe(
      true,
    );
  });

  it('reports every problem at once: two bad values and an unknown flag are three problems', () => {
    const e = problemsOf(AGGREGATOR_SETTINGS, { NETMATRIX_TOKEN: TOKEN, NETMATRIX_LISTEN_PORT: 'abc', NETMATRIX_STREAMS: '0' }, [
      '--bogus=1',
    ]);
    expect(e.problems).toHaveLength(3);
    expect(e.problems).toEqual(
      expect.arrayContaining([
        'unknown flag --bogus',
        expect.stringMatching(/^NETMATRIX_LISTEN_PORT "abc": /),
        expect.stringMatching(/^NETMATRIX_STREAMS "0": .*>=1/),
      ]),
    );
    expect(e.message.split('\n')).toHaveLength(4);
    expect(e.message).toMatch(/^invalid configuration:/);
  });

  it('names the flag, not the variable, when the bad value came from a flag', () => {
    const e = problemsOf(AGGREGATOR_SETTINGS, { NETMATRIX_TOKEN: TOKEN, NETMATRIX_PATHS: 'node' }, [
      '--paths',
      'node,bogus',
      '--port=70000',
    ]);
    expect(e.problems).toEqual([
      expect.stringMatching(/^--port "70000": /),
      expect.stringMatching(/^--paths "node,bogus": .*"node"\|"pod"\|"service"/),
    ]);
  });

  it('refuses positional arguments and bad booleans, enums and empty lists', () => {
    const e = problemsOf(
      AGGREGATOR_SETTINGS,
      { NETMATRIX_TOKEN: TOKEN, NETMATRIX_CONTINUOUS: 'maybe', NETMATRIX_LOG_LEVEL: 'loud', NETMATRIX_PROTOCOLS: ' , ' },
      ['stray'],
    );
    expect(e.problems).toHaveLength(4);
    expect(e.problems).toEqual(
      expect.arrayContaining([
        'unexpected argument "stray"',
        'NETMATRIX_CONTINUOUS "maybe": expected true or false',
        expect.stringMatching(/^NETMATRIX_LOG_LEVEL "loud": /),
        expect.stringMatching(/^NETMATRIX_PROTOCOLS " , ": at least one value/),
      ]),
    );
  });

  it('returns a frozen object', () => {
    const c = loadAggregatorConfig({ NETMATRIX_TOKEN: TOKEN }, []);
    expect(Object.isFrozen(c)).toBe(true);
    expect(() => {
      (c as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(c.port).toBe(8080);
  });
});

describe('NETMATRIX_SERVICE_ADDRESSES', () => {
  const services = (v: string) => loadAggregatorConfig({ NETMATRIX_TOKEN: TOKEN, NETMATRIX_SERVICE_ADDRESSES: v }, []).services;

  it('reads node=IPv4 pairs, ignoring spaces and empty items', () => {
    expect(services('node-1=198.18.200.1, node-2=198.18.200.2,,')).toEqual({ 'node-1': '198.18.200.1', 'node-2': '198.18.200.2' });
  });

  it('is an empty map when unset', () => {
    expect(loadAggregatorConfig({ NETMATRIX_TOKEN: TOKEN }, []).services).toEqual({});
  });

  it.each(['node-1', 'node-1=', '=198.18.200.1', 'node-1=999.1.1.1', 'node-1=fd00::1', 'node-1=198.18.200.1=junk'])('refuses %j', (v) => {
    const e = problemsOf(AGGREGATOR_SETTINGS, { NETMATRIX_TOKEN: TOKEN, NETMATRIX_SERVICE_ADDRESSES: `node-0=198.18.200.9,${v}` });
    expect(e.problems).toEqual([expect.stringMatching(/^NETMATRIX_SERVICE_ADDRESSES .* is not node=IPv4/)]);
  });
});

describe('agent settings', () => {
  it('defaults to the lab-friendly limits', () => {
    const c = loadSettings(AGENT_SETTINGS, { NETMATRIX_TOKEN: TOKEN });
    expect(c).toMatchObject({
      aggregatorUrl: 'ws://127.0.0.1:8080/ws/agent',
      mode: 'pod',
      iperf3Port: 5201,
      iperf3Binary: 'iperf3',
      maxDurationSeconds: 120,
      maxBitrate: 0,
      maxStreams: 16,
      portMin: 5201,
      portMax: 5299,
      connectTimeoutMs: 3000,
    });
    expect(c.allowedTargets).toContain('198.18.0.0/15');
    expect(c.nodeName).toBeUndefined();
    expect(c.podIp).toBeUndefined();
  });

  it('reads the environment and lets flags win', () => {
    const c = loadSettings(
      AGENT_SETTINGS,
      {
        NETMATRIX_TOKEN: TOKEN,
        NETMATRIX_NODE_NAME: 'env-node',
        NETMATRIX_POD_IP: '198.19.1.2',
        NETMATRIX_ALLOWED_TARGET_CIDRS: '198.18.0.0/15',
      },
      ['--node-name', 'flag-node', '--mode=host', '--aggregator=wss://agg.example:443/ws/agent'],
    );
    expect(c.nodeName).toBe('flag-node');
    expect(c.podIp).toBe('198.19.1.2');
    expect(c.mode).toBe('host');
    expect(c.aggregatorUrl).toBe('wss://agg.example:443/ws/agent');
    expect(c.allowedTargets).toEqual(['198.18.0.0/15']);
  });

  it('reports a non-WebSocket URL, a bad IP and a malformed CIDR together', () => {
    const e = problemsOf(AGENT_SETTINGS, {
      NETMATRIX_TOKEN: TOKEN,
      NETMATRIX_AGGREGATOR_URL: 'http://agg:8080',
      NETMATRIX_POD_IP: '10.0.0',
      NETMATRIX_ALLOWED_TARGET_CIDRS: '198.18.0.0/15,10.0.0.0/',
    });
    expect(e.problems).toHaveLength(3);
    expect(e.problems.map((p) => p.split(' ')[0])).toEqual([
      'NETMATRIX_AGGREGATOR_URL',
      'NETMATRIX_POD_IP',
      'NETMATRIX_ALLOWED_TARGET_CIDRS',
    ]);
  });
});

describe('secrets', () => {
  it('never puts the token into a SettingsError', () => {
    const e = problemsOf(AGGREGATOR_SETTINGS, { NETMATRIX_TOKEN: TOKEN, NETMATRIX_LISTEN_PORT: 'abc' }, ['--token', TOKEN, '--bogus']);
    expect(e.message).not.toContain(TOKEN);
    expect(e.problems.join('\n')).not.toContain(TOKEN);
  });

  it('shows an invalid secret as (redacted), with the reason', () => {
    const e = problemsOf(AGENT_SETTINGS, {}, ['--token=']);
    expect(e.problems).toEqual([expect.stringMatching(/^--token \(redacted\): /)]);

    const table = {
      key: { env: 'KEY', flag: 'key', schema: z.string().regex(/^[a-f0-9]{8}$/, 'eight hex digits'), help: 'a secret', secret: true },
    };
    const bad = problemsOf(table, { KEY: TOKEN });
    expect(bad.problems).toEqual(['KEY (redacted): eight hex digits']);
    expect(bad.message).not.toContain(TOKEN);
  });

  it('redacted() replaces secrets and keeps everything else', () => {
    const c = loadAggregatorConfig({ NETMATRIX_TOKEN: TOKEN, NETMATRIX_LISTEN_PORT: '9090' }, []);
    const shown = redacted(AGGREGATOR_SETTINGS, c);
    expect(shown.token).toBe('(redacted)');
    expect(shown.port).toBe(9090);
    expect(JSON.stringify(shown)).not.toContain(TOKEN);
    const agent = redacted(AGENT_SETTINGS, loadSettings(AGENT_SETTINGS, { NETMATRIX_TOKEN: TOKEN }));
    expect(agent.token).toBe('(redacted)');
    expect(JSON.stringify(agent)).not.toContain(TOKEN);
  });

  it('help lists every flag and variable of both tables', () => {
    for (const table of [AGGREGATOR_SETTINGS, AGENT_SETTINGS] as SettingsTable[]) {
      const help = settingsHelp(table);
      for (const s of Object.values(table)) {
        expect(help).toContain(`--${s.flag}`);
        expect(help).toContain(s.env);
      }
    }
  });
});

describe('composing tables', () => {
  const A = { name: { env: 'A_NAME', flag: 'name', schema: setting.string('x'), help: 'a name' } };
  const B = {
    lab: { flag: 'lab', bare: true, schema: setting.bool(false), help: 'a switch' },
    nodes: { flag: 'nodes', schema: setting.int(3, 1, 9), help: 'a count' },
  };

  it('splitArgs hands each table its flags with their values, and every other word to the first', () => {
    const argv = ['--name', 'n', '--lab', '--nodes', '4', 'stray', '--bogus', '--nodes=5', '--name=m'];
    expect(splitArgs(argv, [A, B])).toEqual([
      ['--name', 'n', 'stray', '--bogus', '--name=m'],
      ['--lab', '--nodes', '4', '--nodes=5'],
    ]);
    // A flag followed by another flag has no value: the next flag stays with its own table.
    expect(splitArgs(['--nodes', '--name', 'n'], [A, B])).toEqual([['--name', 'n'], ['--nodes']]);
  });

  it('reads a flag-only setting from its flag, and never from the environment', () => {
    expect(loadSettings(B, { NODES: '7' }, ['--nodes', '2'])).toEqual({ lab: false, nodes: 2 });
    expect(loadSettings(B, {}, ['--lab'])).toEqual({ lab: true, nodes: 3 });
  });

  it('strict rules refuse a repeated or empty flag, and name the table with its flags', () => {
    const rules = { name: 'test', strict: true, badValue: (f: string, raw: string, why: string) => `${f} ${why}, got "${raw}"` };
    const e = problemsOf(B, {}, ['--nodes', '2', '--nodes=3', '--lab=', '--x', '--nodes', '10'], rules);
    expect(e.problems).toEqual([
      '--nodes is given more than once',
      '--lab needs a value',
      'unknown flag --x (test flags: --lab, --nodes)',
      '--nodes is given more than once',
      '--nodes Too big: expected number to be <=9, got "10"',
    ]);
    // The default: the last one wins, and an empty value goes to the schema.
    expect(loadSettings(B, {}, ['--nodes', '2', '--nodes=3'])).toEqual({ lab: false, nodes: 3 });
  });

  it('help leaves out the variable column of a table without variables', () => {
    expect(settingsHelp(B)).toBe(`  --${'lab'.padEnd(34)} a switch\n  --${'nodes'.padEnd(34)} a count`);
    expect(settingsHelp(A)).toBe(`  --${'name'.padEnd(34)} ${'A_NAME'.padEnd(40)} a name`);
  });
});
