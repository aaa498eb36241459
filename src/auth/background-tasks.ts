import type { FastifyBaseLogger } from 'fastify';
import { KeyedLock } from '../db/keyed-lock';

/**
 * Work a request starts but does not wait for (e.g. the password reset, done after its answer so
 * the answer's timing tells nothing). Tasks with the same key run one after another; a task's
 * error is logged (its name and error class only: messages can carry addresses) and never
 * reaches the caller. `drain()` waits for everything started so far: the app calls it when it
 * closes, tests call it to see the work's effects.
 */
export class BackgroundTasks {
  private readonly running = new Set<Promise<void>>();
  private readonly lock = new KeyedLock();

  constructor(private readonly log: FastifyBaseLogger) {}

  run(name: string, key: string, work: () => Promise<unknown>): void {
    const task = this.lock
      .run(key, work)
      .then(() => undefined)
      .catch((err: unknown) => {
        const { name: type, code } = (err ?? {}) as { name?: string; code?: unknown };
        this.log.error({ task: name, error: type ?? 'Error', ...(code !== undefined ? { code } : {}) }, `background task "${name}" failed`);
      })
      .finally(() => this.running.delete(task));
    this.running.add(task);
  }

  /** Resolves once every task started before (and while) waiting has settled. */
  async drain(): Promise<void> {
    while (this.running.size > 0) {
      await Promise.all([...this.running]);
    }
  }
}
