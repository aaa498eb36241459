/**
 * How long start-up may take, in MONGODB_TIMEOUT_MS: connecting, creating indexes, the first
 * administrator and the routes take a second or two; every database wait in them is bounded by
 * MONGODB_TIMEOUT_MS except a reply that never comes on a connection already open (the driver
 * sets no socket timeout). Past this, the server gives up instead of waiting forever unseen.
 */
export const STARTUP_DEADLINE_TIMEOUTS = 10;

/** What start-up is doing, for the line written when it takes too long. */
export interface StartupWatch {
  /** Start-up is on this step now (e.g. "creating indexes"). */
  step(name: string): void;
  /** Start-up is over (the server listens, or start-up failed on its own): the deadline is off. */
  done(): void;
}

export interface StartupWatchOptions {
  deadlineMs: number;
  /** Called once, when the deadline passes before done(), with the line to write. */
  onExpired: (message: string) => void;
  now?: () => number;
}

/** Watches start-up: if done() has not come after `deadlineMs`, says which step never finished. */
export function watchStartup(options: StartupWatchOptions): StartupWatch {
  const now = options.now ?? Date.now;
  const started = now();
  let current = 'starting';
  let stepStarted = started;
  const timer = setTimeout(() => {
    options.onExpired(
      `FATAL: start-up did not finish within ${options.deadlineMs} ms (${STARTUP_DEADLINE_TIMEOUTS} × MONGODB_TIMEOUT_MS): ` +
        `it was still ${current}, for ${now() - stepStarted} ms. The database stopped answering or is far too slow. ` +
        'Exiting with status 1 so that a supervisor restarts the server.',
    );
  }, options.deadlineMs);
  // The deadline alone keeps no process alive.
  timer.unref();
  return {
    step(name) {
      current = name;
      stepStarted = now();
    },
    done() {
      clearTimeout(timer);
    },
  };
}
