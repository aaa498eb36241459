/*
 * Memory: the core StructureDefinitions repeat the same strings thousands of times (every element
 * carries constraint ele-1 with its text and expression; paths, type codes and urls recur).
 * JSON.parse makes a new string of each occurrence, and @medplum/core's type index keeps them.
 * Shared within each bundle indexed (loadDefinitions, and each batch of deferred types), the
 * server's indexed definitions take 8.5 MB of heap instead of 12.1, holding the same values.
 */

/**
 * Replaces, in place, every string in `value` (at any depth, keys aside) by the first equal string
 * met through `pool`, and answers `value`. For freshly parsed JSON that nothing else holds yet.
 */
export function shareStrings<T>(value: T, pool: Map<string, string> = new Map()): T {
  share(value, pool);
  return value;
}

function share(value: unknown, pool: Map<string, string>): unknown {
  if (typeof value === 'string') {
    const known = pool.get(value);
    if (known !== undefined) {
      return known;
    }
    pool.set(value, value);
    return value;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      value[i] = share(value[i], pool);
    }
  } else if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      record[key] = share(record[key], pool);
    }
  }
  return value;
}
