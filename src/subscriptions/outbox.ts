import { createHash } from 'node:crypto';
import type { ClientSession, Collection } from 'mongodb';
import type { Database } from '../db/database';
import type { IndexSpecs } from '../db/indexes';
import { withWriteLock } from '../db/transaction';

/**
 * The subscription outbox: what the change listener queues in the transaction of a change, and
 * what the dispatchers record. Three collections, because the embedded engine can lose writes when
 * one collection receives transactional and plain writes at once (see email/outbox.ts):
 * - `subscription_notifications`: one document per (subscription, resource version), inserted in
 *   the change's transaction; removed once delivered or given up (plain deletes under the write
 *   lock). A delivery whose removal did not happen (a crash, an outage) is sent again: at least once;
 * - `subscription_owners`: who a Subscription acts for (the membership of its last writer), in
 *   the Subscription's own transaction;
 * - `subscription_lanes` (dispatchers only, plain writes): per Subscription, the lease, the
 *   consecutive failures and the next attempt.
 */
export const NOTIFICATIONS = 'subscription_notifications';
export const OWNERS = 'subscription_owners';
export const LANES = 'subscription_lanes';

export type Interaction = 'create' | 'update' | 'delete';

/** One queued notification. Its `_id` is the event id receivers de-duplicate on. */
export interface NotificationDoc {
  _id: string;
  subscription: string;
  project: string;
  resourceType: string;
  resourceId: string;
  /** The version the change wrote (a delete writes one too). */
  version: number;
  interaction: Interaction;
  /** The change's lastUpdated: the delivery order within a Subscription. */
  createdAt: Date;
}

export interface LaneDoc {
  _id: string;
  /** Incremented by every claim: the compare-and-set guard of the lease. */
  claims: number;
  leaseOwner?: string;
  leaseUntil?: Date;
  /** Failed deliveries in a row (reset by a success or by setting the Subscription back to active). */
  failures: number;
  nextAttemptAt?: Date;
  lastError?: string;
  /** The dispatcher set the Subscription to `error`: deliveries wait until it is active again. */
  stopped?: boolean;
}

/** Who a Subscription acts for: the membership (and principal) of the last caller that wrote it. */
export interface OwnerDoc {
  _id: string;
  /** The Subscription version this owner wrote. */
  version: number;
  membershipId: string;
  userType: 'User' | 'ClientApplication';
  userId: string;
  projectId: string;
  profile?: string;
}

export const notifications = (database: Database): Collection<NotificationDoc> => database.db.collection<NotificationDoc>(NOTIFICATIONS);
export const owners = (database: Database): Collection<OwnerDoc> => database.db.collection<OwnerDoc>(OWNERS);
export const lanes = (database: Database): Collection<LaneDoc> => database.db.collection<LaneDoc>(LANES);

/**
 * The event id of a resource version for a Subscription: a UUID (version 8) made from a hash of
 * both, so the same change always has the same id (a retried delivery carries it again).
 */
export function eventId(subscription: string, resourceType: string, resourceId: string, version: number): string {
  const hex = createHash('sha256').update(`${subscription}|${resourceType}/${resourceId}/_history/${version}`).digest('hex');
  const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Queues a notification in the change's transaction. Not noted in the commit ledger: a
 * notification whose change did not land finds no version to send and is dropped.
 */
export async function enqueueNotification(database: Database, session: ClientSession, doc: NotificationDoc): Promise<void> {
  await notifications(database).insertOne(doc, { session });
}

/** Removes delivered or given-up notifications (plain deletes on a collection transactions insert into: under the write lock). */
export async function removeNotifications(database: Database, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) {
    return;
  }
  await withWriteLock(database, () => notifications(database).deleteMany({ _id: { $in: [...ids] } }));
}

export function subscriptionIndexes(): IndexSpecs {
  return {
    // A lane's queue in delivery order, and the earlier versions of one resource.
    [NOTIFICATIONS]: [
      { key: { subscription: 1, createdAt: 1, _id: 1 }, name: 'notifications_lane_order' },
      { key: { subscription: 1, resourceType: 1, resourceId: 1, version: 1 }, name: 'notifications_resource_versions' },
    ],
  };
}
