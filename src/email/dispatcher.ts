import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Filter } from 'mongodb';
import { createPollingLoop } from '../polling-loop';
import type { Store } from '../db/store';
import { outboxMessageId } from './mail-options';
import { ADOPT_WINDOW_MS, adoptNewMail, dispatchCollection, purgeFinishedMail, SWEEP_EVERY_MS, type DispatchDocument } from './dispatch-state';
import { hasMailBody, outboxCollection, purgeMailBody } from './outbox';
import { DEFAULT_RETRY_POLICY, describeSendError, isPermanentFailure, retryDelayMs, type RetryPolicy } from './retry-policy';
import type { MailTransport, OutboxDispatcher } from './mail';

export interface DispatcherDeps extends Store {
  log: FastifyBaseLogger;
  transport: MailTransport;
  emailFrom: string;
  /** How often to look for due mail; 0 runs no timer (runOnce still works). */
  pollMs: number;
  policy?: RetryPolicy;
  /** This instance's lease owner id (random unless given). */
  ownerId?: string;
}

const RELEASE = { leaseOwner: '', leaseUntil: '' } as const;
/** Due mails read per claim attempt, and how many times a claim looks again after losing them all. */
const CLAIM_CANDIDATES = 5;
const CLAIM_ROUNDS = 3;

/**
 * Delivers the outbox. Several instances may run against one database: each mail is claimed by
 * a lease (a compare-and-set update), sent, then marked sent under a guard on the lease owner. Runs of
 * one instance never overlap; stop() waits for a send in flight.
 */
export function createOutboxDispatcher(deps: DispatcherDeps): OutboxDispatcher & { readonly ownerId: string } {
  const policy = deps.policy ?? DEFAULT_RETRY_POLICY;
  const ownerId = deps.ownerId ?? randomUUID();
  const outbox = outboxCollection(deps.database);
  const states = dispatchCollection(deps.database);
  const log = deps.log;

  let lastSweepAt: number | undefined;

  /** Gives new outbox mail a delivery state: recent mail on every run, all of it now and then. */
  async function adopt(): Promise<void> {
    const now = deps.clock.now().getTime();
    if (lastSweepAt === undefined || now - lastSweepAt >= SWEEP_EVERY_MS || now < lastSweepAt) {
      await adoptNewMail(deps.database);
      // Mail whose body survived its delivery (a purge that failed, or mail older than purging).
      await purgeFinishedMail(deps.database);
      lastSweepAt = now;
    } else {
      await adoptNewMail(deps.database, new Date(now - ADOPT_WINDOW_MS));
    }
  }

  /**
   * Claims one due mail: reads the oldest candidates, then takes one with a compare-and-set on
   * its attempt count (which every claim increments). A plain findOneAndUpdate would be the
   * natural tool, but the embedded engine does not make it atomic across connections (two
   * instances both "won" the same mail in a race test); a guarded updateOne is atomic on both
   * engines, so correctness rests on it.
   */
  async function claim(): Promise<DispatchDocument | null> {
    for (let round = 0; round < CLAIM_ROUNDS; round++) {
      const now = deps.clock.now();
      const due: Filter<DispatchDocument> = {
        status: 'pending',
        nextAttemptAt: { $lte: now },
        $or: [{ leaseUntil: { $exists: false } }, { leaseUntil: { $lt: now } }],
      };
      const candidates = await states.find(due).sort({ nextAttemptAt: 1, createdAt: 1 }).limit(CLAIM_CANDIDATES).toArray();
      if (candidates.length === 0) {
        return null;
      }
      const leaseUntil = new Date(now.getTime() + policy.leaseMs);
      for (const candidate of candidates) {
        const taken = await states.updateOne(
          { ...due, _id: candidate._id, attempts: candidate.attempts },
          { $set: { leaseOwner: ownerId, leaseUntil, lastAttemptAt: now }, $inc: { attempts: 1 } },
        );
        if (taken.modifiedCount === 1) {
          return { ...candidate, attempts: candidate.attempts + 1, leaseOwner: ownerId, leaseUntil, lastAttemptAt: now };
        }
      }
      // Every candidate went to another instance: look again.
    }
    return null;
  }

  async function markSent(doc: DispatchDocument): Promise<void> {
    const now = deps.clock.now();
    const update = { $set: { status: 'sent' as const, sentAt: now }, $unset: RELEASE };
    const guarded = await states.updateOne({ _id: doc._id, status: 'pending', leaseOwner: ownerId }, update);
    if (guarded.matchedCount === 0) {
      // The lease ran out during the send and another instance may be sending it too. Record the
      // delivery anyway so nobody sends it a third time.
      await states.updateOne({ _id: doc._id, status: 'pending' }, update);
      log.warn({ outboxId: doc._id }, 'Outbox lease expired while the mail was being sent; it may have been delivered twice');
    }
    // Sent: its activation links must not stay readable in the outbox.
    await purgeMailBody(deps.database, doc._id);
  }

  async function markFailed(doc: DispatchDocument, reason: string): Promise<void> {
    const now = deps.clock.now();
    await states.updateOne(
      { _id: doc._id, status: 'pending', leaseOwner: ownerId },
      { $set: { status: 'failed', failedAt: now, lastError: reason }, $unset: RELEASE },
    );
    // Given up: nobody will send it, so its links must not stay readable either.
    await purgeMailBody(deps.database, doc._id);
    log.warn({ outboxId: doc._id, kind: doc.kind, attempts: doc.attempts, error: reason }, 'Mail could not be delivered and was marked failed');
  }

  async function recordFailure(doc: DispatchDocument, err: unknown): Promise<void> {
    const reason = describeSendError(err);
    if (isPermanentFailure(err) || doc.attempts >= policy.maxAttempts) {
      await markFailed(doc, reason);
      return;
    }
    const next = new Date(deps.clock.now().getTime() + retryDelayMs(doc.attempts, policy));
    await states.updateOne(
      { _id: doc._id, status: 'pending', leaseOwner: ownerId },
      { $set: { nextAttemptAt: next, lastError: reason }, $unset: RELEASE },
    );
    log.info({ outboxId: doc._id, attempts: doc.attempts, nextAttemptAt: next, error: reason }, 'Mail delivery failed; it will be retried');
  }

  /** Sends one claimed mail; answers whether it left the server. */
  async function deliver(doc: DispatchDocument): Promise<boolean> {
    if (doc.attempts > policy.maxAttempts) {
      // Earlier attempts were interrupted (a crash mid-send): give up instead of looping.
      await markFailed(doc, doc.lastError ?? `gave up after ${policy.maxAttempts} interrupted attempts`);
      return false;
    }
    const mail = await outbox.findOne({ _id: doc._id });
    if (!mail) {
      await markFailed(doc, 'the outbox message is missing');
      return false;
    }
    if (!hasMailBody(mail)) {
      // Another instance sent it (or gave up on it) after this one's claim: its body is gone and
      // there is nothing to send. Its state is final already, so this update normally matches nothing.
      await states.updateOne(
        { _id: doc._id, status: 'pending', leaseOwner: ownerId },
        { $set: { status: 'failed', failedAt: deps.clock.now(), lastError: 'the outbox message body was already removed' }, $unset: RELEASE },
      );
      log.info({ outboxId: doc._id }, 'Outbox mail was already delivered or given up on; not sent again');
      return false;
    }
    try {
      await deps.transport.send({
        ...mail.message,
        from: deps.emailFrom,
        messageId: outboxMessageId(doc._id, deps.emailFrom),
        outboxId: doc._id,
        createdAt: doc.createdAt,
      });
    } catch (err) {
      await recordFailure(doc, err);
      return false;
    }
    await markSent(doc);
    log.info({ outboxId: doc._id, kind: doc.kind }, 'Mail sent');
    return true;
  }

  async function drain(): Promise<number> {
    let sent = 0;
    if (loop.stopped) {
      return sent;
    }
    try {
      await adopt();
    } catch (err) {
      log.warn({ err: describeSendError(err) }, 'Outbox could not be read; will try again');
      return sent;
    }
    for (let i = 0; i < policy.batchSize && !loop.stopped; i++) {
      let doc: DispatchDocument | null;
      try {
        doc = await claim();
      } catch (err) {
        log.warn({ err: describeSendError(err) }, 'Outbox could not be read; will try again');
        break;
      }
      if (!doc) {
        break;
      }
      try {
        if (await deliver(doc)) {
          sent++;
        }
      } catch (err) {
        // A database error while recording the outcome: the lease expires and another run decides.
        log.error({ outboxId: doc._id, err: describeSendError(err) }, 'Outbox state could not be saved after a send attempt');
      }
    }
    return sent;
  }

  const loop = createPollingLoop(drain, deps.pollMs);
  return {
    ownerId,
    start: () => loop.start(),
    stop: () => loop.stop(),
    runOnce: () => loop.runOnce(),
  };
}
