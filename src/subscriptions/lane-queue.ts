import { MongoServerError } from 'mongodb';
import type { Database } from '../db/database';
import type { Store } from '../db/store';
import type { HistoryEntry } from '../fhir/repository';
import { historyCollection } from '../fhir/resource-types';
import { lanes, notifications, removeNotifications, type LaneDoc, type NotificationDoc } from './outbox';

/**
 * A Subscription's lane as the dispatcher uses it: its lease and state (plain writes, dispatchers
 * only), and its queue, read a batch at a time with a handful of queries (the embedded engine
 * scans a collection per query, so per-notification queries would cost more than the writes
 * they follow).
 */

/** How one lane run ended, for the lane's state. */
export type LaneOutcome = { kind: 'idle' } | { kind: 'failed'; reason: string } | { kind: 'stop'; reason: string };

/**
 * Takes the lane's lease when it is free and due (a stopped lane is always looked at: it resumes
 * as soon as its Subscription is active again). The compare-and-set on `claims` makes one claim
 * win among instances (a guarded updateOne is atomic on both engines; see the mail dispatcher).
 */
export async function claimLane(ctx: Store, id: string, ownerId: string, leaseMs: number): Promise<LaneDoc | undefined> {
  let lane = await lanes(ctx.database).findOne({ _id: id });
  if (!lane) {
    await lanes(ctx.database)
      .insertOne({ _id: id, claims: 0, failures: 0 })
      .catch((err: unknown) => {
        // Another instance made it first.
        if (!(err instanceof MongoServerError && err.code === 11000)) {
          throw err;
        }
      });
    lane = await lanes(ctx.database).findOne({ _id: id });
  }
  const now = ctx.clock.now();
  if (!lane || (lane.leaseUntil && lane.leaseUntil > now) || (!lane.stopped && lane.nextAttemptAt && lane.nextAttemptAt > now)) {
    return undefined;
  }
  const leaseUntil = new Date(now.getTime() + leaseMs);
  const taken = await lanes(ctx.database).updateOne({ _id: id, claims: lane.claims }, { $set: { leaseOwner: ownerId, leaseUntil }, $inc: { claims: 1 } });
  return taken.modifiedCount === 1 ? { ...lane, claims: lane.claims + 1, leaseOwner: ownerId, leaseUntil } : undefined;
}

/** Records how the run ended and gives the lease back (only while this instance still holds it). */
export async function releaseLane(ctx: Store, lane: LaneDoc, ownerId: string, outcome: LaneOutcome, backoffMs: (failures: number) => number): Promise<void> {
  const now = ctx.clock.now();
  let set: Partial<LaneDoc>;
  if (outcome.kind === 'failed') {
    const failures = lane.failures + 1;
    set = { failures, lastError: outcome.reason, nextAttemptAt: new Date(now.getTime() + backoffMs(failures)) };
  } else if (outcome.kind === 'stop') {
    set = { failures: lane.failures, lastError: outcome.reason, stopped: true };
  } else {
    set = { failures: lane.failures, stopped: lane.stopped ?? false };
  }
  await lanes(ctx.database).updateOne({ _id: lane._id, leaseOwner: ownerId, claims: lane.claims }, { $set: set, $unset: { leaseOwner: '', leaseUntil: '' } });
}

/** A notification that needs no further attempt: delivered, or given up for a reason. */
export interface Finished {
  _id: string;
  outcome: 'delivered' | 'dropped';
  reason?: string;
}

/**
 * The next pending notifications of a lane in delivery order: oldest first (by the change's
 * lastUpdated), except that the versions of one resource always go in version order. When the
 * queue is longer than the batch, the pending versions of the batch's resources beyond it (an
 * instance whose clock is behind) are taken in too, so a version never goes before an earlier one
 * that waits.
 */
export async function pendingBatch(database: Database, subscription: string, limit: number): Promise<NotificationDoc[]> {
  const oldest = await notifications(database).find({ subscription }).sort({ createdAt: 1, _id: 1 }).limit(limit).toArray();
  const byId = new Map(oldest.map((n) => [n._id, n]));
  if (oldest.length === limit) {
    // The queue is longer than the batch: later versions of its resources may sort beyond it.
    const resourceIds = [...new Set(oldest.map((n) => n.resourceId))];
    for (const n of await notifications(database).find({ subscription, resourceId: { $in: resourceIds } }).toArray()) {
      byId.set(n._id, n);
    }
  }
  const ordered = [...byId.values()].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a._id < b._id ? -1 : a._id > b._id ? 1 : 0));
  // Each resource's positions in that order are given its versions in ascending order.
  const key = (n: NotificationDoc): string => `${n.resourceType}/${n.resourceId}`;
  const versions = new Map<string, NotificationDoc[]>();
  for (const n of ordered) {
    (versions.get(key(n)) ?? versions.set(key(n), []).get(key(n)))?.push(n);
  }
  for (const list of versions.values()) {
    list.sort((a, b) => a.version - b.version);
  }
  return ordered.map((n) => versions.get(key(n))?.shift() as NotificationDoc);
}

/** The history entries of the batch's versions, by `{type}/{id}/{version}` (one query per type). */
export async function versionsOf(database: Database, batch: readonly NotificationDoc[]): Promise<Map<string, HistoryEntry>> {
  const ids = new Map<string, string[]>();
  for (const n of batch) {
    (ids.get(n.resourceType) ?? ids.set(n.resourceType, []).get(n.resourceType))?.push(`${n.resourceId}/${n.version}`);
  }
  const found = new Map<string, HistoryEntry>();
  for (const [type, list] of ids) {
    for (const entry of await database.db.collection<HistoryEntry>(historyCollection(type)).find({ _id: { $in: list } }).toArray()) {
      found.set(`${type}/${entry._id}`, entry);
    }
  }
  return found;
}

/** Removes finished notifications from the outbox (see removeNotifications); one that stays is sent again. */
export async function recordFinished(database: Database, finished: readonly Finished[]): Promise<void> {
  await removeNotifications(database, finished.map((f) => f._id));
}
