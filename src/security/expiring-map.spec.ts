import { ExpiringMap } from './expiring-map';

describe('ExpiringMap', () => {
  it('returns a value until its expiry, then forgets it', () => {
    const map = new ExpiringMap<string>(10);
    map.set('a', 'x', 1000, 0);
    expect(map.get('a', 999)).toBe('x');
    expect(map.get('a', 1000)).toBeUndefined();
    map.set('b', 'y', 3000, 1500);
    expect(map.size).toBe(1); // 'a' was dropped when 'b' arrived after its expiry
  });

  it('never holds more than its bound, dropping the oldest first', () => {
    const map = new ExpiringMap<number>(3);
    for (let i = 0; i < 5; i++) map.set(`k${i}`, i, 10_000, i);
    expect(map.size).toBe(3);
    expect(map.get('k0', 5)).toBeUndefined();
    expect(map.get('k1', 5)).toBeUndefined();
    expect([map.get('k2', 5), map.get('k3', 5), map.get('k4', 5)]).toEqual([2, 3, 4]);
  });

  it('updates a live key in place, and replaces an expired one', () => {
    const map = new ExpiringMap<number>(2);
    map.set('a', 1, 100, 0);
    map.set('b', 2, 150, 10);
    map.set('a', 3, 120, 20);
    expect(map.get('a', 30)).toBe(3);
    expect(map.size).toBe(2);
    map.set('a', 4, 300, 200); // both expired by now: 'a' starts afresh
    expect(map.size).toBe(1);
    expect(map.get('a', 250)).toBe(4);
  });
});
