import { REGEX_CACHE_ENTRIES, regex, regexCacheSize } from '../../../src/fhir/search/match-document';

describe('compiled $regex patterns', () => {
  test('the cache never holds more than REGEX_CACHE_ENTRIES patterns', () => {
    for (let i = 0; i < REGEX_CACHE_ENTRIES * 2 + 7; i++) {
      expect(regex(`^name-${i}`).test(`name-${i}x`)).toBe(true);
      expect(regexCacheSize()).toBeLessThanOrEqual(REGEX_CACHE_ENTRIES);
    }
    expect(REGEX_CACHE_ENTRIES).toBe(1000);
    expect(regexCacheSize()).toBeGreaterThan(0);
  });

  test('the same pattern is compiled once while cached', () => {
    expect(regex('^same')).toBe(regex('^same'));
  });
});
