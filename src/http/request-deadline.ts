import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DatabaseUnavailableError } from '../db/availability';
import type { Database } from '../db/database';
import { errorHandler } from './error-handler';

/**
 * After this many MONGODB_TIMEOUT_MS, a request still unanswered while the database is (or has
 * been, since the request began) unreachable is answered 503 with an outcome-unknown
 * OperationOutcome. Every database wait is bounded by itself; this is the backstop for a
 * driver call that stays pending forever on a connection closed under it. A slow request on a
 * healthy database is never cut.
 */
const DEADLINE_TIMEOUTS = 2;

interface OpenRequest {
  reply: FastifyReply;
  /** Set once the request's deadline is armed: stops it. */
  disarm?: () => void;
}

/**
 * Registers the backstop on every route. While the database is up a request costs a map entry
 * and nothing else: no timer, no promise. The deadlines are armed only when an outage begins,
 * for the requests open at that moment (each at `grace` after its own start, or at once when
 * that has passed), and for each request that begins during one.
 */
export function registerRequestDeadline(app: FastifyInstance, database: Database): void {
  const graceMs = DEADLINE_TIMEOUTS * database.timeoutMs;
  const open = new Map<FastifyRequest, OpenRequest>();
  const abandon = (request: FastifyRequest, reply: FastifyReply): void => {
    if (!reply.sent) {
      errorHandler(new DatabaseUnavailableError('abandoned') as never, request, reply);
    }
  };
  const arm = (request: FastifyRequest, entry: OpenRequest): void => {
    if (entry.disarm) {
      return;
    }
    const timer = setTimeout(() => abandon(request, entry.reply), Math.max(0, graceMs - entry.reply.elapsedTime)).unref();
    entry.disarm = () => clearTimeout(timer);
  };
  const stopOutageWatch = database.availability.onOutage(() => {
    for (const [request, entry] of open) {
      arm(request, entry);
    }
  });
  const release = (request: FastifyRequest): void => {
    open.get(request)?.disarm?.();
    open.delete(request);
  };
  // Callback-style hooks (not async): they never wait, and each async one costs a promise per request.
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const entry: OpenRequest = { reply };
    if (database.availability.down) {
      // Begun during an outage: given up after the grace unless the database is back by then
      // (and stays up), as any other wait on it.
      const guard = database.availability.abandonAfterOutage(graceMs);
      guard.abandoned.catch(() => abandon(request, reply));
      entry.disarm = guard.dispose;
    }
    open.set(request, entry);
    done();
  });
  app.addHook('onResponse', (request, _reply, done) => {
    release(request);
    done();
  });
  app.addHook('onRequestAbort', (request, done) => {
    release(request);
    done();
  });
  app.addHook('onClose', (_instance, done) => {
    stopOutageWatch();
    done();
  });
}
