import type { ClientSession, MongoClient, ServerHeartbeatFailedEvent, ServerHeartbeatStartedEvent, ServerHeartbeatSucceededEvent, TopologyDescriptionChangedEvent } from 'mongodb';

const REASONS = {
  down: 'the database is known to be unreachable',
  busy: 'timed out waiting for the write lock',
  abandoned: 'gave up waiting for a database call that outlasted an outage',
};

/**
 * The database cannot serve this request right now: it is known to be unreachable, the request
 * waited too long for its turn to write, or a database call was abandoned because it outlasted
 * an outage (its outcome is then unknown). Answered as 503 with Retry-After.
 */
export class DatabaseUnavailableError extends Error {
  constructor(readonly reason: keyof typeof REASONS) {
    super(REASONS[reason]);
  }
}

/** A wait that gives up when the database has been down for long enough (see `abandonAfterOutage`). */
export interface OutageGuard {
  /** Rejects with DatabaseUnavailableError('abandoned'); never resolves. */
  readonly abandoned: Promise<never>;
  dispose(): void;
}

/** Where the database layer reports what it does on its own (a pino logger fits). */
export interface DatabaseLog {
  warn(details: object, message: string): void;
  info(details: object, message: string): void;
}

export interface AvailabilityOptions {
  /** A monitor check running longer than this is stuck (see `watchdog`). */
  stuckCheckMs: number;
  /** Pause between reconnection attempts after a stuck monitor. */
  retryMs: number;
  log?: DatabaseLog;
}

/**
 * Whether the database is known to be down, from the driver's own server monitoring (SDAM):
 * down once a monitor heartbeat has failed while no server can take writes, up again as soon as
 * one can. A dropped application connection alone (which the embedded engine does on a
 * commit-time unique clash) does not count: the driver re-checks such a server at once.
 *
 * Requests use it to answer 503 at once instead of waiting for server selection, and waiters
 * for the embedded engine's write lock use `signal` to give up the moment the database goes.
 *
 * It also watches the monitor itself. The driver (6.x) can leave a server check pending forever
 * when the check starts on a connection whose socket the peer has just closed (the write waits
 * for a 'drain' a destroyed socket never emits; measured here with a TCP proxy that cuts every
 * connection). The server then stays unknown and the app would never recover. A check running
 * longer than any of its own timeouts allow is therefore treated as stuck: the client is closed
 * and connected again (retried until the database answers), and the database counts as down
 * meanwhile.
 */
export class DatabaseAvailability {
  private writable = true;
  private readonly failing = new Set<string>();
  private readonly checking = new Map<string, number>();
  private controller = new AbortController();
  private reconnecting = false;
  private outages = 0;
  private stopped = false;
  private readonly timer: NodeJS.Timeout;
  /** Sessions running a transaction (see `holdTransaction`). */
  private readonly transactions = new Set<ClientSession>();
  /** Called as each outage begins (see `onOutage`). */
  private readonly outageListeners = new Set<() => void>();

  constructor(private readonly client: MongoClient, private readonly options: AvailabilityOptions) {
    client.on('topologyDescriptionChanged', (event: TopologyDescriptionChangedEvent) => {
      this.writable = [...event.newDescription.servers.values()].some((server) => server.isWritable);
      this.update();
    });
    client.on('serverHeartbeatStarted', (event: ServerHeartbeatStartedEvent) => {
      this.checking.set(event.connectionId, Date.now());
    });
    client.on('serverHeartbeatFailed', (event: ServerHeartbeatFailedEvent) => {
      this.checking.delete(event.connectionId);
      this.failing.add(event.connectionId);
      this.update();
    });
    client.on('serverHeartbeatSucceeded', (event: ServerHeartbeatSucceededEvent) => {
      this.checking.delete(event.connectionId);
      this.failing.delete(event.connectionId);
      this.update();
    });
    this.timer = setInterval(() => this.watchdog(), Math.min(1000, options.stuckCheckMs)).unref();
  }

  /** True while the database is known to be unreachable. */
  get down(): boolean {
    return this.controller.signal.aborted;
  }

  /** Aborts (with a DatabaseUnavailableError) when the database becomes known to be down. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Throws DatabaseUnavailableError when the database is known to be unreachable. */
  assertUp(): void {
    if (this.down) {
      throw new DatabaseUnavailableError('down');
    }
  }

  /**
   * For work that may hang on a dead connection (the driver can leave an operation pending
   * forever when its connection is closed under it): `abandoned` rejects once `graceMs` have
   * passed since this call and the database is down, or has been down at some point since this
   * call. Work that runs long on a healthy database is never abandoned.
   */
  abandonAfterOutage(graceMs: number): OutageGuard {
    const since = this.outages;
    let signal: AbortSignal | undefined;
    let onDown: (() => void) | undefined;
    let reject!: (err: Error) => void;
    const abandoned = new Promise<never>((_, r) => (reject = r));
    abandoned.catch(() => undefined);
    const dispose = (): void => {
      clearTimeout(timer);
      if (onDown) {
        signal?.removeEventListener('abort', onDown);
      }
    };
    const give = (): void => {
      dispose();
      reject(new DatabaseUnavailableError('abandoned'));
    };
    const timer = setTimeout(() => {
      if (this.down || this.outages !== since) {
        give();
        return;
      }
      // Healthy so far: give up only if an outage starts from now on.
      signal = this.signal;
      onDown = give;
      signal.addEventListener('abort', onDown, { once: true });
    }, graceMs).unref();
    return { abandoned, dispose };
  }

  /**
   * Calls `listener` each time an outage begins (the moment `down` turns true), until the
   * returned function is called. For work tracked in bulk that cannot afford a guard each.
   */
  onOutage(listener: () => void): () => void {
    this.outageListeners.add(listener);
    return () => this.outageListeners.delete(listener);
  }

  /**
   * Registers a session that runs a transaction until the returned function is called. Closing
   * the client (a forced reconnect) ends every session in use and hands its id back to the
   * driver's pool, though the server may still hold its transaction open: those ids are retired
   * first (`retireServerSession`).
   */
  holdTransaction(session: ClientSession): () => void {
    this.transactions.add(session);
    return () => this.transactions.delete(session);
  }

  /** Stops watching (the client is being closed for good). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private update(): void {
    const down = this.reconnecting || (!this.writable && this.failing.size > 0);
    if (down && !this.down) {
      this.outages++;
      this.controller.abort(new DatabaseUnavailableError('down'));
      for (const listener of this.outageListeners) {
        listener();
      }
    } else if (!down && this.down) {
      this.controller = new AbortController();
    }
  }

  private watchdog(): void {
    if (this.reconnecting || this.stopped) {
      return;
    }
    const now = Date.now();
    for (const [address, since] of this.checking) {
      if (now - since > this.options.stuckCheckMs) {
        void this.reconnect(address, now - since);
        return;
      }
    }
  }

  private async reconnect(address: string, stuckMs: number): Promise<void> {
    this.reconnecting = true;
    this.update();
    this.options.log?.warn({ server: address, stuckMs }, 'database monitor check stuck: reconnecting the database client');
    this.checking.clear();
    this.failing.clear();
    for (const session of this.transactions) {
      retireServerSession(session);
    }
    await this.client.close(true).catch(() => undefined);
    while (!this.stopped) {
      try {
        await this.client.connect();
        this.options.log?.info({ server: address }, 'database client reconnected');
        break;
      } catch {
        await new Promise((r) => setTimeout(r, this.options.retryMs).unref());
      }
    }
    if (this.stopped) {
      // Closed for good while reconnecting: do not leave a connected client behind.
      await this.client.close().catch(() => undefined);
    }
    this.reconnecting = false;
    this.update();
  }
}

/**
 * Keeps the driver from handing this session's id to a later session. MongoDB drops a transaction
 * left open on the server when a newer one starts on the same id; the embedded engine refuses the
 * newer one ("transaction already in progress for this session") until the old one times out.
 * The driver retires an id by itself only after a network error on the session's own connection,
 * not after a failed server selection, a call on a connection already closed, a call we
 * abandoned, or a client closed under the session. Must run before the session ends.
 */
export function retireServerSession(session: ClientSession): void {
  const serverSession = session.serverSession as { isDirty?: boolean } | undefined;
  if (serverSession && !session.hasEnded) {
    serverSession.isDirty = true;
  }
}
