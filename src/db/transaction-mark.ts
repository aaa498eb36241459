import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Marks the async context of work that holds the embedded engine's write lock, so that a plain
 * write nested in it (withWriteLock) runs at once instead of waiting for itself.
 *
 * On Node 22 an enabled AsyncLocalStorage installs promise hooks that every promise of the
 * process then pays for (measured: about a tenth of the CPU of a read by id), for as long as it
 * stays enabled. The mark is therefore enabled only while some marked work runs, and disabled
 * when the last one ends: work begun inside it that outlives it (started in the background) is
 * no longer inside a transaction, and waits for the lock like any other write.
 */
export class TransactionMark {
  private readonly storage = new AsyncLocalStorage<boolean>();
  private running = 0;

  /** True inside marked work. */
  active(): boolean {
    return this.running > 0 && this.storage.getStore() === true;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    this.running++;
    try {
      return await this.storage.run(true, fn);
    } finally {
      if (--this.running === 0) {
        this.storage.disable();
      }
    }
  }
}
