import type { Clock } from './clock';

export interface SetOptions {
  /** This entry's lifetime, when shorter than the cache's (e.g. a token that expires sooner). */
  ttlMs?: number;
  /**
   * The `generation` read before the value was loaded: when `clear()` ran since, the value may
   * predate the change that cleared the cache, and it is not stored.
   */
  generation?: number;
}

/** How many entries a TtlCache holds at most unless told otherwise. */
export const TTL_CACHE_MAX_ENTRIES = 10_000;

/**
 * A small per-app cache whose entries live `ttlMs` (by the app's clock); the oldest entries are
 * dropped beyond `maxEntries`. Used to keep database round trips off the token hot path.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();
  private cleared = 0;

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs: number,
    private readonly maxEntries = TTL_CACHE_MAX_ENTRIES,
  ) {}

  /** Changes on every `clear()`; see `SetOptions.generation`. */
  get generation(): number {
    return this.cleared;
  }

  /** How many entries are held (expired ones included until read or pushed out). */
  get size(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) {
      return undefined;
    }
    if (entry.until <= this.clock.now().getTime()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: V, options: SetOptions = {}): void {
    if (options.generation !== undefined && options.generation !== this.cleared) {
      return;
    }
    this.entries.delete(key);
    this.entries.set(key, { value, until: this.clock.now().getTime() + Math.min(this.ttlMs, options.ttlMs ?? this.ttlMs) });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** Forgets every entry (and refuses values loaded before this call). */
  clear(): void {
    this.entries.clear();
    this.cleared += 1;
  }
}
