/** How long a caller may wait for its turn, and what makes it give up early. */
export interface LockWaitOptions {
  /** Give up after this many milliseconds of waiting (LockWaitTimeoutError). */
  maxWaitMs?: number;
  /** Give up as soon as this signal aborts (its reason is thrown). */
  signal?: AbortSignal;
}

/** A caller waited longer than `maxWaitMs` for its turn; it did not run. */
export class LockWaitTimeoutError extends Error {
  constructor(readonly key: string, readonly waitedMs: number) {
    super(`gave up waiting ${waitedMs} ms for lock "${key}"`);
  }
}

/**
 * An in-process mutex per key: callers with the same key run one after another. Used to avoid
 * pointless concurrent conflicting transactions in one process (e.g. one invitee invited twice
 * at once); correctness still rests on unique indexes and version-guarded updates.
 *
 * A caller may bound its wait (LockWaitOptions): one that gives up never runs, and the callers
 * behind it keep waiting for the one that holds the key, so the order is kept.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();
  private readonly waiters = new Map<string, number>();

  /** How many keys are held or waited for now (a key is forgotten when its last caller is done). */
  get size(): number {
    return this.tails.size;
  }

  /** How many callers are queued behind another on this key (the holder not counted). */
  waiting(key: string): number {
    return this.waiters.get(key) ?? 0;
  }

  async run<T>(key: string, fn: () => Promise<T>, options: LockWaitOptions = {}): Promise<T> {
    const queued = this.tails.has(key);
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const current = new Promise<void>((r) => (release = r));
    const tail = previous.then(() => current);
    this.tails.set(key, tail);
    const forget = (): void => {
      if (this.tails.get(key) === tail) {
        this.tails.delete(key);
      }
    };
    if (queued) {
      this.waiters.set(key, this.waiting(key) + 1);
    }
    try {
      await waitTurn(previous, key, options);
    } catch (err) {
      // Hand our turn straight on; the next caller still waits for `previous` through `tail`.
      release();
      void tail.then(forget);
      throw err;
    } finally {
      if (queued) {
        this.dequeue(key);
      }
    }
    try {
      return await fn();
    } finally {
      release();
      forget();
    }
  }

  private dequeue(key: string): void {
    const left = this.waiting(key) - 1;
    if (left > 0) {
      this.waiters.set(key, left);
    } else {
      this.waiters.delete(key);
    }
  }
}

function waitTurn(previous: Promise<void>, key: string, { maxWaitMs, signal }: LockWaitOptions): Promise<void> {
  if (maxWaitMs === undefined && signal === undefined) {
    return previous;
  }
  return new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const settle = (error?: unknown): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (error === undefined) {
        resolve();
      } else {
        reject(error);
      }
    };
    const onAbort = (): void => settle(signal?.reason ?? new Error(`lock "${key}" wait aborted`));
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    if (maxWaitMs !== undefined) {
      timer = setTimeout(() => settle(new LockWaitTimeoutError(key, maxWaitMs)), maxWaitMs);
    }
    void previous.then(() => settle());
  });
}
