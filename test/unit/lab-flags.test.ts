import { describe, expect, it } from 'vitest';
import { DEFAULT_LAB_NODES, LabFlagsError, parseLabFlags } from '../../lab/flags.js';

function problemsOf(args: string[]): readonly string[] {
  try {
    parseLabFlags(args);
  } catch (e) {
    if (e instanceof LabFlagsError) return e.problems;
    throw e;
  }
  throw new Error('parseLabFlags accepted the flags');
}

describe('parseLabFlags', () => {
  it('defaults to a 3-node lab with the default profile', () => {
    expect(parseLabFlags([])).toEqual({
      nodes: DEFAULT_LAB_NODES,
      profile: { podNetwork: 'direct', serviceProxy: 'iptables', linkRate: null },
    });
    expect(DEFAULT_LAB_NODES).toBe(3);
  });

  it('reads every flag, as the next argument or after =', () => {
    expect(parseLabFlags(['--nodes', '5', '--pod-network', 'vxlan', '--service-proxy', 'ebpf', '--link-rate', '200mbit'])).toEqual({
      nodes: 5,
      profile: { podNetwork: 'vxlan', serviceProxy: 'ebpf', linkRate: '200mbit' },
    });
    expect(parseLabFlags(['--nodes=2', '--service-proxy=nftables', '--link-rate=1.5gbit'])).toEqual({
      nodes: 2,
      profile: { podNetwork: 'direct', serviceProxy: 'nftables', linkRate: '1.5gbit' },
    });
  });

  it('reports every problem at once: unknown flag, bad values, missing value, repeats, stray arguments', () => {
    const problems = problemsOf([
      '--nodes',
      '0',
      '--pod-network',
      'ipip',
      '--service-proxy',
      'ipvs',
      '--link-rate',
      'fast',
      '--loopback',
      'extra',
      '--nodes',
      '2',
    ]);
    expect(problems).toEqual([
      'unknown flag --loopback (lab flags: --nodes, --pod-network, --service-proxy, --link-rate)',
      'unexpected argument "extra"',
      '--nodes is given more than once',
      '--pod-network must be one of direct, vxlan, got "ipip"',
      '--service-proxy must be one of iptables, nftables, ebpf, got "ipvs"',
      '--link-rate must be a tc rate such as 500mbit or 1gbit (units bit, kbit, mbit, gbit), got "fast"',
    ]);
  });

  it('names a flag given without its value, also when another flag follows', () => {
    expect(problemsOf(['--link-rate', '--nodes', '2', '--pod-network'])).toEqual([
      '--link-rate needs a value',
      '--pod-network needs a value',
    ]);
    expect(problemsOf(['--nodes='])).toEqual(['--nodes needs a value']);
  });

  it.each(['0', '51', '2.5', '-1', 'three', '1e1'])('refuses --nodes %s', (n) => {
    expect(problemsOf(['--nodes', n])).toEqual([`--nodes must be an integer from 1 to 50, got "${n}"`]);
  });

  it.each(['200', '200Mbit', '200mbps', '0.5 gbit', 'mbit'])('refuses --link-rate %s', (rate) => {
    expect(problemsOf(['--link-rate', rate])).toHaveLength(1);
  });

  it('puts every problem into one message', () => {
    expect(() => parseLabFlags(['--nodes', '99', '--bogus'])).toThrow(
      /^invalid lab flags: unknown flag --bogus .*; --nodes must be an integer from 1 to 50, got "99"$/,
    );
  });
});
