import { randomUUID } from 'node:crypto';
import type { Subscription } from '@medplum/fhirtypes';
import { MongoBulkWriteError, MongoServerError } from 'mongodb';
import { redact } from '../access/enforce';
import { visible } from '../access/confinement';
import type { AccessScope } from '../access/access-scope';
import { FhirError } from '../errors';
import type { ChangeListener } from '../fhir/changes';
import { readStored, readVersion, updateResource, type HistoryEntry } from '../fhir/repository';
import { isStoredType } from '../fhir/resource-types';
import { backoffDelayMs, createPollingLoop, type PollingLoop } from '../polling-loop';
import { checkEndpoint, EndpointError, type EndpointPolicy } from './endpoint';
import { DeliveryError, DEFAULT_POST_LIMITS, postNotification, type PostLimits } from './http-post';
import { deliverySettings, notificationRequest, type DeliverySettings } from './notification';
import { deliveries, lanes, notifications, removeNotifications, type LaneDoc, type NotificationDoc } from './outbox';
import { ownerScope, readOwner, type OwnerContext } from './owner';

/**
 * Delivers the subscription outbox. Per Subscription, one lane: notifications go out one at a
 * time, oldest first and, for one resource, version after version (a version is never sent
 * before every earlier queued version of that resource is delivered or given up). Several
 * instances may run: a lane is held by a lease taken with a compare-and-set (as the mail
 * dispatcher claims mail). A failed delivery (no answer, or a status other than 2xx, redirects
 * included) stops the lane until its backoff has passed (5 s, doubling, at most 10 min); after
 * `maxFailures` in a row the Subscription is set to `status: error` with the reason in `error`,
 * and its notifications wait (changes keep being queued) until someone sets it back to
 * `active`: the lane then resumes with the notification that failed. Deleted Subscriptions and
 * those set to `off` lose what is queued. A notification whose version the owner cannot read
 * (or that no longer exists) is given up, never sent.
 */

export interface SubscriptionPolicy {
  baseDelayMs: number;
  maxDelayMs: number;
  /** Failed deliveries in a row before the Subscription goes to status error. */
  maxFailures: number;
  leaseMs: number;
  /** Most notifications one lane sends per run. */
  batchSize: number;
  /** Lanes served at once. */
  concurrency: number;
}

/** 12 failures in a row span about an hour (5+10+20+...+600 s) before the Subscription goes to error. */
export const DEFAULT_SUBSCRIPTION_POLICY: SubscriptionPolicy = { baseDelayMs: 5_000, maxDelayMs: 10 * 60_000, maxFailures: 12, leaseMs: 60_000, batchSize: 200, concurrency: 4 };

export interface DispatcherContext extends OwnerContext {
  endpoints: EndpointPolicy;
  /** The repository's change listeners, for the dispatcher's own write of status error. */
  listeners: readonly ChangeListener[];
  pollMs: number;
  policy?: SubscriptionPolicy;
  limits?: PostLimits;
  ownerId?: string;
}

export type SubscriptionDispatcher = Pick<PollingLoop, 'start' | 'stop' | 'runOnce'>;

/** How one lane run ended, for the lane's state. */
type Outcome = { kind: 'idle' } | { kind: 'failed'; reason: string } | { kind: 'stop'; reason: string };

/** The resource type of a Subscription's criteria (`Type?...`), when it names a stored one. */
function criteriaType(subscription: Subscription): string | undefined {
  const type = (subscription.criteria ?? '').split('?')[0];
  return isStoredType(type) ? type : undefined;
}

/** Gives up a notification for good (never a secret in the reason). */
class GiveUp extends Error {}

const SWEEP_EVERY_MS = 60_000;

export function createSubscriptionDispatcher(ctx: DispatcherContext): SubscriptionDispatcher {
  const policy = ctx.policy ?? DEFAULT_SUBSCRIPTION_POLICY;
  const limits = ctx.limits ?? DEFAULT_POST_LIMITS;
  const ownerId = ctx.ownerId ?? randomUUID();
  let lastSweepAt: number | undefined;

  async function claim(id: string): Promise<LaneDoc | undefined> {
    let lane = await lanes(ctx.database).findOne({ _id: id });
    if (!lane) {
      await lanes(ctx.database).insertOne({ _id: id, claims: 0, failures: 0 }).catch((err: unknown) => {
        if (!(err instanceof MongoServerError && err.code === 11000) && !(err instanceof MongoBulkWriteError)) {
          throw err;
        }
      });
      lane = await lanes(ctx.database).findOne({ _id: id });
    }
    const now = ctx.clock.now();
    if (!lane || (lane.leaseUntil && lane.leaseUntil > now) || (!lane.stopped && lane.nextAttemptAt && lane.nextAttemptAt > now)) {
      return undefined;
    }
    const leaseUntil = new Date(now.getTime() + policy.leaseMs);
    const taken = await lanes(ctx.database).updateOne({ _id: id, claims: lane.claims }, { $set: { leaseOwner: ownerId, leaseUntil }, $inc: { claims: 1 } });
    return taken.modifiedCount === 1 ? { ...lane, claims: lane.claims + 1, leaseOwner: ownerId, leaseUntil } : undefined;
  }

  async function release(lane: LaneDoc, outcome: Outcome): Promise<void> {
    const now = ctx.clock.now();
    let set: Partial<LaneDoc>;
    if (outcome.kind === 'failed') {
      const failures = lane.failures + 1;
      set = { failures, lastError: outcome.reason, nextAttemptAt: new Date(now.getTime() + backoffDelayMs(failures, policy.baseDelayMs, policy.maxDelayMs)) };
    } else if (outcome.kind === 'stop') {
      set = { failures: lane.failures, lastError: outcome.reason, stopped: true };
    } else {
      set = { failures: lane.failures, stopped: lane.stopped ?? false };
    }
    await lanes(ctx.database).updateOne({ _id: lane._id, leaseOwner: ownerId, claims: lane.claims }, { $set: set, $unset: { leaseOwner: '', leaseUntil: '' } });
  }

  /** The Subscription to status error (a version-guarded write of the server's own; a concurrent change by someone wins). */
  async function stopSubscription(subscription: Subscription, reason: string): Promise<void> {
    const repo = { database: ctx.database, clock: ctx.clock, listeners: ctx.listeners, operation: 'update' as const };
    try {
      await updateResource(repo, { ...subscription, status: 'error', error: reason.slice(0, 500) }, { ifMatch: `W/"${subscription.meta?.versionId}"`, skipValidation: true });
      ctx.log.warn({ subscription: subscription.id, reason }, 'Subscription set to status error: its notifications wait until it is set back to active');
    } catch (err) {
      if (!(err instanceof FhirError && err.code === 'FST_PRECONDITION')) {
        throw err;
      }
    }
  }

  /** The next notification of the lane: the oldest, unless an earlier version of its resource still waits. */
  async function next(subscription: string, done: ReadonlySet<string>): Promise<NotificationDoc | undefined> {
    const pending = async (filter: object, sort: Record<string, 1>): Promise<NotificationDoc | undefined> => {
      const docs = await notifications(ctx.database).find({ subscription, ...filter, _id: { $nin: [...done] } }).sort(sort).limit(20).toArray();
      const finished = new Set((await deliveries(ctx.database).find({ _id: { $in: docs.map((d) => d._id) } }).toArray()).map((d) => d._id));
      return docs.find((d) => !finished.has(d._id));
    };
    const oldest = await pending({}, { createdAt: 1, _id: 1 });
    if (!oldest) {
      return undefined;
    }
    const earlier = await pending({ resourceType: oldest.resourceType, resourceId: oldest.resourceId, version: { $lt: oldest.version } }, { version: 1 });
    return earlier ?? oldest;
  }

  async function sendOne(settings: DeliverySettings, endpointRaw: unknown, scope: AccessScope, n: NotificationDoc): Promise<void> {
    let entry: HistoryEntry;
    try {
      entry = await readVersion(ctx, n.resourceType, n.resourceId, n.version);
    } catch {
      throw new GiveUp('the resource version no longer exists');
    }
    const access = scope.forType(n.resourceType);
    if (!access || !(await visible(ctx, scope, entry.resource, 'read'))) {
      throw new GiveUp("the Subscription's owner may not read this resource");
    }
    const { headers, body } = notificationRequest(settings, n, redact(access, entry.resource));
    const endpoint = await checkEndpoint(endpointRaw, ctx.endpoints);
    const status = await postNotification(endpoint, headers, body, limits);
    if (status < 200 || status > 299) {
      throw new DeliveryError(`the endpoint answered HTTP ${status}`);
    }
  }

  /** Serves one lane; answers how many notifications it delivered. */
  async function runLane(id: string): Promise<number> {
    const lane = await claim(id);
    if (!lane) {
      return 0;
    }
    const done = new Set<string>();
    const finished: { _id: string; outcome: 'delivered' | 'dropped'; reason?: string }[] = [];
    let outcome: Outcome = { kind: 'idle' };
    let delivered = 0;
    try {
      const stored = await readStored<Subscription>(ctx, 'Subscription', id);
      const subscription = stored && !stored.deleted ? stored.resource : undefined;
      if (!subscription || subscription.status === 'off' || subscription.status === 'requested') {
        // Deleted or switched off: what is queued is dropped.
        for (const n of await notifications(ctx.database).find({ subscription: id }).limit(policy.batchSize).toArray()) {
          finished.push({ _id: n._id, outcome: 'dropped', reason: subscription ? `the Subscription is ${subscription.status}` : 'the Subscription was deleted' });
        }
        return 0;
      }
      if (subscription.status !== 'active') {
        return 0;
      }
      if (lane.stopped) {
        // Set back to active: resume where it stopped.
        lane.stopped = false;
        lane.failures = 0;
        ctx.log.info({ subscription: id }, 'Subscription active again: delivery resumes');
      }
      const owner = await readOwner(ctx, id);
      let scope: AccessScope;
      try {
        if (!owner) {
          throw new FhirError('FST_FORBIDDEN', 'it has no owner');
        }
        scope = await ownerScope(ctx, owner);
      } catch (err) {
        const reason = `The Subscription's owner can no longer read through it (${err instanceof FhirError ? err.message : 'access could not be resolved'}); a project administrator must update it`;
        await stopSubscription(subscription, reason);
        outcome = { kind: 'stop', reason };
        return 0;
      }
      const type = criteriaType(subscription);
      const readable = type ? scope.forType(type) : undefined;
      if (!readable || !(readable.interactions.has('read') || readable.interactions.has('search'))) {
        const reason = `The Subscription's owner may no longer read ${type ?? 'the resources of its criteria'}; a project administrator must update it`;
        await stopSubscription(subscription, reason);
        outcome = { kind: 'stop', reason };
        return 0;
      }
      const settings = deliverySettings(subscription);
      for (let i = 0; i < policy.batchSize && !loop.stopped; i++) {
        const n = await next(id, done);
        if (!n) {
          break;
        }
        try {
          await sendOne(settings, subscription.channel?.endpoint, scope, n);
          finished.push({ _id: n._id, outcome: 'delivered' });
          delivered++;
          lane.failures = 0;
        } catch (err) {
          if (err instanceof GiveUp) {
            finished.push({ _id: n._id, outcome: 'dropped', reason: err.message });
          } else if (err instanceof DeliveryError || err instanceof EndpointError) {
            const reason = `Delivery to the endpoint failed: ${err.message}`;
            if (lane.failures + 1 >= policy.maxFailures) {
              await stopSubscription(subscription, `${reason} (${lane.failures + 1} failures in a row)`);
              outcome = { kind: 'stop', reason };
            } else {
              outcome = { kind: 'failed', reason };
            }
            ctx.log.info({ subscription: id, event: n._id, failures: lane.failures + 1, error: err.message }, 'Subscription notification not delivered; it will be retried');
            break;
          } else {
            throw err;
          }
        }
        done.add(n._id);
      }
      return delivered;
    } finally {
      try {
        await recordFinished(id, finished);
      } finally {
        await release(lane, outcome);
      }
    }
  }

  async function recordFinished(subscription: string, finished: { _id: string; outcome: 'delivered' | 'dropped'; reason?: string }[]): Promise<void> {
    if (finished.length === 0) {
      return;
    }
    const at = ctx.clock.now();
    await deliveries(ctx.database)
      .insertMany(finished.map((f) => ({ ...f, subscription, at })), { ordered: false })
      .catch((err: unknown) => {
        if (!(err instanceof MongoBulkWriteError)) {
          throw err;
        }
      });
    await removeNotifications(ctx.database, finished.map((f) => f._id));
  }

  /** Notifications recorded as finished whose removal did not happen (a crash, an outage): removed now and then. */
  async function sweep(): Promise<void> {
    const now = ctx.clock.now().getTime();
    if (lastSweepAt !== undefined && now - lastSweepAt < SWEEP_EVERY_MS && now >= lastSweepAt) {
      return;
    }
    lastSweepAt = now;
    const stale = await deliveries(ctx.database).find({ at: { $lt: new Date(now - SWEEP_EVERY_MS) } }).limit(1000).toArray();
    await removeNotifications(ctx.database, stale.map((d) => d._id));
  }

  async function drain(): Promise<number> {
    let delivered = 0;
    try {
      await sweep();
      const ids = (await notifications(ctx.database).aggregate<{ _id: string }>([{ $group: { _id: '$subscription' } }]).toArray()).map((g) => g._id);
      for (let start = 0; start < ids.length && !loop.stopped; start += policy.concurrency) {
        const counts = await Promise.all(
          ids.slice(start, start + policy.concurrency).map((id) =>
            runLane(id).catch((err: unknown) => {
              ctx.log.error({ subscription: id, err: err instanceof Error ? err.message : String(err) }, 'Subscription lane could not be served; it will be tried again');
              return 0;
            }),
          ),
        );
        delivered += counts.reduce((a, b) => a + b, 0);
      }
    } catch (err) {
      ctx.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'Subscription outbox could not be read; will try again');
    }
    return delivered;
  }

  const loop = createPollingLoop(drain, ctx.pollMs);
  return { start: () => loop.start(), stop: () => loop.stop(), runOnce: () => loop.runOnce() };
}
