import { MongoError, MongoErrorLabel, MongoNetworkError, MongoOperationTimeoutError, MongoServerSelectionError } from 'mongodb';
import { DatabaseUnavailableError } from './availability';
import { AmbiguousCommitError } from './transaction';

/**
 * The one place that decides whether an error means "the database cannot be reached or cannot
 * answer right now" (answered 503 with Retry-After, never 500). Everything the driver raises
 * for a lost connection, a server it cannot select, a cleared or closed pool, a timeout, a
 * node shutting down or stepping down, plus our own DatabaseUnavailableError and
 * AmbiguousCommitError.
 */

/** Driver error names (by name too, so an error from another copy of the driver still counts). */
const UNAVAILABLE_NAMES = new Set([
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoServerSelectionError',
  'MongoPoolClearedError',
  'PoolClearedOnNetworkError',
  'MongoPoolClosedError',
  'MongoWaitQueueTimeoutError',
  'MongoTopologyClosedError',
  'MongoNotConnectedError',
  'MongoClientClosedError',
  'MongoServerClosedError',
  'MongoOperationTimeoutError',
]);

/**
 * Server error codes that mean the node cannot serve now (shutting down, not primary, host
 * unreachable, time limit exceeded, write concern not satisfied in time).
 */
const UNAVAILABLE_CODES = new Set([6, 7, 50, 64, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436]);

function isUnavailableOne(err: unknown): boolean {
  if (err instanceof DatabaseUnavailableError || err instanceof AmbiguousCommitError) {
    return true;
  }
  if (err instanceof MongoNetworkError || err instanceof MongoServerSelectionError || err instanceof MongoOperationTimeoutError) {
    return true;
  }
  if (err instanceof MongoError) {
    if (typeof err.code === 'number' && UNAVAILABLE_CODES.has(err.code)) {
      return true;
    }
    // What the driver still calls retryable after its own retry: a transient state of the cluster.
    if (err.hasErrorLabel(MongoErrorLabel.RetryableWriteError) || err.hasErrorLabel(MongoErrorLabel.TransientTransactionError)) {
      return true;
    }
  }
  return typeof (err as Error | undefined)?.name === 'string' && UNAVAILABLE_NAMES.has((err as Error).name);
}

/** Whether `err` (or an error it wraps as `cause`) means the database is unavailable right now. */
export function isDatabaseUnavailable(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current; depth++) {
    if (isUnavailableOne(current)) {
      return true;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Whether the request's writes may or may not have been saved: an ambiguous commit, or a
 * database call abandoned after an outage.
 */
export function isOutcomeUnknown(err: unknown): boolean {
  return err instanceof AmbiguousCommitError || (err instanceof DatabaseUnavailableError && err.reason === 'abandoned');
}
