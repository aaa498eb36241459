import { MongoBulkWriteError, type Collection } from 'mongodb';
import type { Database } from '../db/database';
import { OUTBOX_COLLECTION, outboxCollection, purgeMailBody, type OutboxDocument } from './outbox';

export const DISPATCH_COLLECTION = 'outbox_dispatch';

export type DispatchStatus = 'pending' | 'sent' | 'failed';

/**
 * The delivery state of one outbox mail (same `_id`). Only dispatchers write this collection,
 * with plain single-document writes; no transaction ever touches it.
 */
export interface DispatchDocument {
  _id: string;
  status: DispatchStatus;
  /** Sends tried so far (counted when a dispatcher claims the mail). */
  attempts: number;
  nextAttemptAt: Date;
  /** When the mail was enqueued. */
  createdAt: Date;
  kind: string;
  /** The dispatcher instance that holds the mail, until leaseUntil. */
  leaseOwner?: string;
  leaseUntil?: Date;
  lastAttemptAt?: Date;
  sentAt?: Date;
  failedAt?: Date;
  /** A short, non-secret description of the last failure. */
  lastError?: string;
}

export function dispatchCollection(database: Database): Collection<DispatchDocument> {
  return database.db.collection<DispatchDocument>(DISPATCH_COLLECTION);
}

/** Mail enqueued this recently is looked for on every run; older mail by a periodic sweep. */
export const ADOPT_WINDOW_MS = 15 * 60_000;
export const SWEEP_EVERY_MS = 5 * 60_000;
const ADOPT_BATCH = 200;

/**
 * Gives every outbox mail without a delivery state one (pending, due now). `since` limits the
 * look to recent mail; without it the whole outbox is swept. Several instances may adopt at
 * once: the state's `_id` is the mail's, so only one insert wins. Answers how many it adopted.
 */
export async function adoptNewMail(database: Database, since?: Date): Promise<number> {
  let adopted = 0;
  for (;;) {
    const pipeline: object[] = [];
    if (since) {
      pipeline.push({ $match: { createdAt: { $gte: since } } });
    }
    pipeline.push(
      { $lookup: { from: DISPATCH_COLLECTION, localField: '_id', foreignField: '_id', as: 'dispatch' } },
      { $match: { 'dispatch.0': { $exists: false } } },
      { $sort: { createdAt: 1 } },
      { $limit: ADOPT_BATCH },
    );
    const fresh = await outboxCollection(database).aggregate<OutboxDocument>(pipeline).toArray();
    if (fresh.length === 0) {
      return adopted;
    }
    const states: DispatchDocument[] = fresh.map((doc) => ({
      _id: doc._id,
      status: 'pending',
      attempts: 0,
      nextAttemptAt: doc.createdAt,
      createdAt: doc.createdAt,
      kind: doc.message.kind,
    }));
    adopted += await insertIgnoringDuplicates(dispatchCollection(database), states);
    if (fresh.length < ADOPT_BATCH) {
      return adopted;
    }
  }
}

async function insertIgnoringDuplicates(collection: Collection<DispatchDocument>, docs: DispatchDocument[]): Promise<number> {
  try {
    const result = await collection.insertMany(docs, { ordered: false });
    return result.insertedCount;
  } catch (err) {
    // Another instance adopted some of them first.
    if (err instanceof MongoBulkWriteError && [err.writeErrors].flat().every((e) => e.code === 11000)) {
      return err.result.insertedCount;
    }
    throw err;
  }
}

/**
 * Purges the bodies of every sent or failed mail that still has one (see purgeMailBody): mail
 * whose purge failed after its delivery, or mail delivered before purging existed. Answers how
 * many it purged.
 */
export async function purgeFinishedMail(database: Database): Promise<number> {
  let purged = 0;
  for (;;) {
    const rows = await outboxCollection(database)
      .aggregate<{ _id: string }>([
        { $match: { bodyPurged: { $ne: true } } },
        { $lookup: { from: DISPATCH_COLLECTION, localField: '_id', foreignField: '_id', as: 'dispatch' } },
        { $match: { 'dispatch.status': { $in: ['sent', 'failed'] } } },
        { $limit: ADOPT_BATCH },
      ])
      .toArray();
    for (const row of rows) {
      await purgeMailBody(database, row._id);
    }
    purged += rows.length;
    if (rows.length < ADOPT_BATCH) {
      return purged;
    }
  }
}

/** One mail and its delivery state, for callers and tests that want to know what happened. */
export interface OutboxEntry {
  id: string;
  message: OutboxDocument['message'];
  createdAt: Date;
  /** 'pending' until a dispatcher has sent it or given up. */
  status: DispatchStatus;
  attempts: number;
  nextAttemptAt: Date;
  sentAt?: Date;
  failedAt?: Date;
  lastError?: string;
}

/** The outbox mails matching the filter (e.g. `{ 'message.to': email }`), oldest first, with their state. */
export async function listOutbox(database: Database, filter: Record<string, unknown> = {}): Promise<OutboxEntry[]> {
  const rows = await database.db
    .collection(OUTBOX_COLLECTION)
    .aggregate<OutboxDocument & { dispatch: DispatchDocument[] }>([
      { $match: filter },
      { $sort: { createdAt: 1, _id: 1 } },
      { $lookup: { from: DISPATCH_COLLECTION, localField: '_id', foreignField: '_id', as: 'dispatch' } },
    ])
    .toArray();
  return rows.map(({ _id, message, createdAt, dispatch }) => {
    const state = dispatch[0];
    const entry: OutboxEntry = {
      id: _id,
      message,
      createdAt,
      status: state?.status ?? 'pending',
      attempts: state?.attempts ?? 0,
      nextAttemptAt: state?.nextAttemptAt ?? createdAt,
    };
    if (state?.sentAt) entry.sentAt = state.sentAt;
    if (state?.failedAt) entry.failedAt = state.failedAt;
    if (state?.lastError) entry.lastError = state.lastError;
    return entry;
  });
}
