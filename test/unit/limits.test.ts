import { describe, expect, it } from 'vitest';
import { checkOmit, checkPort, checkSpec, checkTarget, isValidCidr, parseCidr } from '../../shared/limits.js';
import type { AgentLimits } from '../../shared/protocol.js';
import { throughputSpec } from '../helpers/specs.js';

const limits: AgentLimits = {
  maxDurationSeconds: 60,
  maxBitrateBitsPerSecond: 0,
  maxStreams: 8,
  portMin: 5201,
  portMax: 5299,
  allowedTargetCidrs: ['198.18.0.0/15', '10.0.0.0/8'],
  maxOmitSeconds: 60,
};
const capped: AgentLimits = { ...limits, maxBitrateBitsPerSecond: 1_000_000_000 };
const spec = throughputSpec();

describe('parseCidr', () => {
  it('matches exactly 198.18.0.0-198.19.255.255 for the /15 benchmarking range', () => {
    const inBench = parseCidr('198.18.0.0/15');
    for (const ip of ['198.18.0.0', '198.18.0.1', '198.18.200.1', '198.19.0.0', '198.19.255.255']) expect(inBench(ip), ip).toBe(true);
    for (const ip of ['198.17.255.255', '198.20.0.0', '198.16.0.1', '199.18.0.1', '10.0.0.1']) expect(inBench(ip), ip).toBe(false);
  });

  it('aligns a base that is not on the prefix boundary down to it', () => {
    const m = parseCidr('198.19.7.9/15');
    expect(m('198.18.0.0')).toBe(true);
    expect(m('198.20.0.0')).toBe(false);
  });

  it('matches every address with /0', () => {
    const all = parseCidr('0.0.0.0/0');
    for (const ip of ['0.0.0.0', '8.8.8.8', '255.255.255.255']) expect(all(ip), ip).toBe(true);
  });

  it('matches only the address itself with /32, and treats a bare address as /32', () => {
    for (const cidr of ['198.18.0.11/32', '198.18.0.11']) {
      const one = parseCidr(cidr);
      expect(one('198.18.0.11')).toBe(true);
      expect(one('198.18.0.10')).toBe(false);
      expect(one('198.18.0.12')).toBe(false);
    }
    expect(parseCidr('255.255.255.255/32')('255.255.255.255')).toBe(true);
  });

  it('does not match strings that are not IPv4 addresses', () => {
    const all = parseCidr('0.0.0.0/0');
    for (const ip of ['', 'localhost', '1.2.3', '1.2.3.4.5', '256.0.0.1', '::1', '1.2.3.-4']) expect(all(ip), ip).toBe(false);
  });

  it.each(['', '/8', '10.0.0/8', '10.0.0.0.0/8', '10.0.0.256/8', '10.0.0.0/33', '10.0.0.0/-1', '10.0.0.0/8.5', 'ten.0.0.0/8', '::/0'])(
    'throws on the malformed CIDR %j',
    (cidr) => {
      expect(() => parseCidr(cidr)).toThrow(`invalid IPv4 CIDR "${cidr}"`);
      expect(isValidCidr(cidr)).toBe(false);
    },
  );

  // A typo must not widen the allowed targets: "10.0.0.0/" read as /0 would let the agent
  // send test traffic to every address on the Internet.
  it.each(['10.0.0.0/', '10.0.0.0/ 8', '10.0.0.0/0x8', '10.0.0.0/1e1', '10.0.0.0/+8', '10.0.0.0/8/9'])(
    'throws on the malformed prefix length in %j instead of guessing one',
    (cidr) => {
      expect(() => parseCidr(cidr)).toThrow(`invalid IPv4 CIDR "${cidr}"`);
      expect(isValidCidr(cidr)).toBe(false);
    },
  );
});

describe('checkSpec', () => {
  it('accepts a spec within the limits', () => {
    expect(checkSpec(limits, spec)).toBeUndefined();
    expect(checkSpec(limits, { ...spec, durationSeconds: 60, streams: 8 })).toBeUndefined();
    expect(checkSpec(capped, { ...spec, bitrateBitsPerSecond: 1_000_000_000 })).toBeUndefined();
  });

  it('refuses a duration over the limit, naming it', () => {
    expect(checkSpec(limits, { ...spec, durationSeconds: 61 })).toEqual({
      code: 'spec-refused',
      message: "duration 61s exceeds the agent's limit of 60s",
    });
  });

  it('refuses too many streams, naming the limit', () => {
    const f = checkSpec(limits, { ...spec, streams: 9 });
    expect(f?.code).toBe('spec-refused');
    expect(f?.message).toMatch(/9 streams exceed the agent's limit of 8/);
  });

  it('refuses a bitrate over the cap, and an unlimited one when there is a cap', () => {
    expect(checkSpec(capped, { ...spec, bitrateBitsPerSecond: 1_000_000_001 })?.message).toMatch(/cap of 1000000000/);
    expect(checkSpec(capped, { ...spec, bitrateBitsPerSecond: 0 })?.message).toMatch(/unlimited bitrate requested .* 1000000000 bit\/s/);
  });

  it('lets any bitrate through when the cap is 0 (no cap)', () => {
    expect(checkSpec(limits, { ...spec, bitrateBitsPerSecond: 1e13 })).toBeUndefined();
  });

  it('counts the omitted seconds against the duration limit: they run too', () => {
    expect(checkSpec(limits, { ...spec, durationSeconds: 59, omitSeconds: 1 })).toBeUndefined();
    expect(checkSpec(limits, { ...spec, durationSeconds: 60, omitSeconds: 1 })).toEqual({
      code: 'spec-refused',
      message: "duration 60s plus 1s omitted exceeds the agent's limit of 60s",
    });
  });

  it('refuses omitted seconds on behalf of an agent that predates them, and above its limit', () => {
    const { maxOmitSeconds: _, ...old } = limits;
    expect(checkOmit(old, { ...spec, omitSeconds: 0 })).toBeUndefined();
    expect(checkOmit(old, spec)).toBeUndefined();
    expect(checkOmit(old, { ...spec, omitSeconds: 1 })).toEqual({
      code: 'spec-refused',
      message: 'the agent predates iperf3 omit (-O): upgrade it, or run with omit 0',
    });
    expect(checkOmit({ ...limits, maxOmitSeconds: 2 }, { ...spec, omitSeconds: 2 })).toBeUndefined();
    expect(checkSpec({ ...limits, maxOmitSeconds: 2 }, { ...spec, omitSeconds: 3 })?.message).toBe(
      "omit 3s exceeds the agent's limit of 2s",
    );
  });

  it('names every limit a spec breaks, in one failure', () => {
    const f = checkSpec(capped, { ...spec, durationSeconds: 100, streams: 20, bitrateBitsPerSecond: 2e9 });
    expect(f?.code).toBe('spec-refused');
    expect(f?.message.split('; ')).toHaveLength(3);
    expect(f?.message).toMatch(/60s/);
    expect(f?.message).toMatch(/limit of 8/);
    expect(f?.message).toMatch(/cap of 1000000000/);
  });
});

describe('checkPort', () => {
  it('accepts the range ends and refuses just outside them, naming the range', () => {
    expect(checkPort(limits, 5201)).toBeUndefined();
    expect(checkPort(limits, 5299)).toBeUndefined();
    for (const port of [5200, 5300, 22]) {
      expect(checkPort(limits, port)).toEqual({ code: 'spec-refused', message: `port ${port} is outside the agent's range 5201-5299` });
    }
  });
});

describe('checkTarget', () => {
  it('accepts a target in any allowed range', () => {
    expect(checkTarget(limits, '198.19.3.2')).toBeUndefined();
    expect(checkTarget(limits, '10.250.0.1')).toBeUndefined();
  });

  it('refuses a target outside every allowed range, naming the ranges', () => {
    const f = checkTarget(limits, '8.8.8.8');
    expect(f).toEqual({
      code: 'spec-refused',
      message: "target 8.8.8.8 is outside the agent's allowed ranges (198.18.0.0/15, 10.0.0.0/8)",
    });
  });

  it('refuses every target when no range is allowed', () => {
    expect(checkTarget({ ...limits, allowedTargetCidrs: [] }, '198.18.0.1')?.code).toBe('spec-refused');
  });
});
