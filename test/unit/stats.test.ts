import { describe, expect, it } from 'vitest';
import { median, quantile, spread } from '../../shared/stats.js';

describe('order statistics', () => {
  it('interpolates quantiles linearly between ranks, whatever the input order', () => {
    expect(quantile([40, 10, 30, 20], 0)).toBe(10);
    expect(quantile([40, 10, 30, 20], 1)).toBe(40);
    expect(quantile([40, 10, 30, 20], 0.5)).toBe(25);
    expect(quantile([10, 20, 30, 40, 50], 0.1)).toBe(14);
    expect(quantile([10, 20, 30, 40, 50], 0.9)).toBe(46);
  });

  it('gives the median of odd and even lists and nothing for an empty one', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeUndefined();
  });

  it('summarises a list as median, min and max, and an empty one as null', () => {
    expect(spread([5, 1, 9])).toEqual({ median: 5, min: 1, max: 9 });
    expect(spread([])).toBeNull();
  });
});

describe('order statistics at size', () => {
  it('summarise 300,000 values (a path of a 1,000-node full mesh has 999,000) without overflowing the stack', () => {
    // Math.min(...xs) throws a RangeError past about 120,000 arguments.
    const xs = Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 300_007);
    const s = spread(xs);
    expect(s?.min).toBe(0);
    expect(s?.max).toBe(xs.reduce((a, b) => Math.max(a, b), -Infinity));
    expect(s?.median).toBe(quantile(xs, 0.5));
  });
});
