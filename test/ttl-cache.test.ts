import { TTL_CACHE_MAX_ENTRIES, TtlCache } from '../src/ttl-cache';
import { TestClock } from './helpers/app';

describe('TtlCache', () => {
  test('holds at most maxEntries: the oldest written entry goes first', () => {
    const cache = new TtlCache<number>(new TestClock(), 60_000, 3);
    for (let i = 0; i < 5; i++) {
      cache.set(`k${i}`, i);
    }
    expect(cache.size).toBe(3);
    expect([0, 1, 2, 3, 4].map((i) => cache.get(`k${i}`))).toEqual([undefined, undefined, 2, 3, 4]);
  });

  test('writing a key again makes it the newest', () => {
    const cache = new TtlCache<number>(new TestClock(), 60_000, 2);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('a', 3);
    cache.set('c', 4);
    expect(cache.size).toBe(2);
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual([3, undefined, 4]);
  });

  test('a flood of distinct keys never holds more than the default bound', () => {
    const cache = new TtlCache<boolean>(new TestClock(), 60_000);
    for (let i = 0; i < TTL_CACHE_MAX_ENTRIES + 500; i++) {
      cache.set(`token-${i}`, true);
    }
    expect(TTL_CACHE_MAX_ENTRIES).toBe(10_000);
    expect(cache.size).toBe(TTL_CACHE_MAX_ENTRIES);
    expect(cache.get('token-0')).toBeUndefined();
    expect(cache.get(`token-${TTL_CACHE_MAX_ENTRIES + 499}`)).toBe(true);
  });

  test('entries expire after the cache lifetime, or a shorter one given per entry; an expired entry read is dropped', () => {
    const clock = new TestClock();
    const cache = new TtlCache<string>(clock, 5_000, 10);
    cache.set('long', 'x');
    cache.set('short', 'y', { ttlMs: 1_000 });
    cache.set('longer', 'z', { ttlMs: 60_000 });
    clock.advance(1_000);
    expect(cache.get('short')).toBeUndefined();
    expect(cache.get('long')).toBe('x');
    clock.advance(4_000);
    expect(cache.get('long')).toBeUndefined();
    expect(cache.get('longer')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  test('clear() forgets everything and refuses a value loaded before it', () => {
    const cache = new TtlCache<number>(new TestClock(), 5_000, 10);
    const generation = cache.generation;
    cache.set('a', 1);
    cache.clear();
    expect(cache.size).toBe(0);
    cache.set('b', 2, { generation });
    expect(cache.get('b')).toBeUndefined();
    cache.set('b', 2, { generation: cache.generation });
    expect(cache.get('b')).toBe(2);
  });
});
