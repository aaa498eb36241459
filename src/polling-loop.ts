/**
 * What the outbox dispatchers (mail, subscription notifications) share: a loop that runs a unit
 * of work now and then, never two runs of one loop at once, and a backoff that doubles.
 */

export interface PollingLoop {
  /** Starts the timer (nothing when pollMs is 0; runOnce still works). */
  start(): void;
  /** Stops the timer and waits for a run in flight; later timer ticks run nothing. */
  stop(): Promise<void>;
  /** Runs the work now, after any run in flight; answers what that run answered. */
  runOnce(): Promise<number>;
  /** True after stop(): long runs check it between steps. */
  readonly stopped: boolean;
}

/**
 * Runs `work` every `pollMs` (measured from the end of the previous run). A tick while a run is
 * in flight (e.g. a manual runOnce) is skipped; runOnce calls queue behind each other.
 */
export function createPollingLoop(work: () => Promise<number>, pollMs: number): PollingLoop {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<number> | undefined;

  function runOnce(): Promise<number> {
    const previous = current ?? Promise.resolve(0);
    const run = previous.then(work, work);
    current = run;
    run
      .finally(() => {
        if (current === run) {
          current = undefined;
        }
      })
      .catch(() => undefined);
    return run;
  }

  function schedule(): void {
    if (stopped || pollMs <= 0 || timer) {
      return;
    }
    timer = setTimeout(() => {
      timer = undefined;
      // A run already in flight (e.g. a manual runOnce) is enough: skip this tick.
      const run = current ?? runOnce();
      run.finally(schedule).catch(() => undefined);
    }, pollMs);
    timer.unref();
  }

  return {
    get stopped() {
      return stopped;
    },
    start() {
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      if (timer) {
        clearTimeout(timer);
        timer = undefined;
      }
      while (current) {
        await current.catch(() => undefined);
      }
    },
    runOnce,
  };
}

/** The wait after `failures` failed attempts in a row (1 = the first): base, doubling, capped at max. */
export function backoffDelayMs(failures: number, baseDelayMs: number, maxDelayMs: number): number {
  const exponent = Math.max(0, failures - 1);
  // 2^exponent overflows nothing below the cap; stop doubling once past it.
  if (exponent >= 30) {
    return maxDelayMs;
  }
  return Math.min(baseDelayMs * 2 ** exponent, maxDelayMs);
}
