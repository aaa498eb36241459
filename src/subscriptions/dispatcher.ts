import { randomUUID } from 'node:crypto';
import type { Subscription } from '@medplum/fhirtypes';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { redact } from '../access/enforce';
import { visible } from '../access/confinement';
import type { AccessScope } from '../access/access-scope';
import { FhirError } from '../errors';
import type { ChangeListener } from '../fhir/changes';
import { readStored, updateResource } from '../fhir/repository';
import { isStoredType } from '../fhir/resource-types';
import { backoffDelayMs, createPollingLoop, type PollingLoop } from '../polling-loop';
import { checkEndpoint, EndpointError, type CheckedEndpoint, type EndpointPolicy } from './endpoint';
import { DeliveryError, DEFAULT_POST_LIMITS, postNotification, type PostLimits } from './http-post';
import { deliverySettings, notificationRequest, type DeliverySettings } from './notification';
import { claimLane, pendingBatch, recordFinished, releaseLane, versionsOf, type Finished, type LaneOutcome } from './lane-queue';
import { notifications, type LaneDoc, type OwnerDoc } from './outbox';
import { TtlCache } from '../ttl-cache';
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

/** The resource type of a Subscription's criteria (`Type?...`), when it names a stored one. */
function criteriaType(subscription: Subscription): string | undefined {
  const type = (subscription.criteria ?? '').split('?')[0];
  return isStoredType(type) ? type : undefined;
}

/** What a lane run may do, decided from the Subscription and its owner as stored now. */
type Prepared =
  | { kind: 'drop'; reason: string }
  | { kind: 'hold' }
  | { kind: 'stop'; subscription: Subscription; reason: string }
  | { kind: 'deliver'; subscription: Subscription; scope: AccessScope; settings: DeliverySettings };

export function createSubscriptionDispatcher(ctx: DispatcherContext): SubscriptionDispatcher {
  const policy = ctx.policy ?? DEFAULT_SUBSCRIPTION_POLICY;
  const limits = ctx.limits ?? DEFAULT_POST_LIMITS;
  const ownerId = ctx.ownerId ?? randomUUID();
  const owners = new TtlCache<OwnerDoc>(ctx.clock, 10 * 60_000, 1000);

  const claim = (id: string): Promise<LaneDoc | undefined> => claimLane(ctx, id, ownerId, policy.leaseMs);
  const release = (lane: LaneDoc, outcome: LaneOutcome): Promise<void> => releaseLane(ctx, lane, ownerId, outcome, (failures) => backoffDelayMs(failures, policy.baseDelayMs, policy.maxDelayMs));

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

  /** Whether the lane may deliver now; when not, what becomes of its queue. */
  async function prepare(lane: LaneDoc, id: string): Promise<Prepared> {
    const stored = await readStored<Subscription>(ctx, 'Subscription', id);
    const subscription = stored && !stored.deleted ? stored.resource : undefined;
    if (!subscription || subscription.status === 'off' || subscription.status === 'requested') {
      return { kind: 'drop', reason: subscription ? `the Subscription is ${subscription.status}` : 'the Subscription was deleted' };
    }
    if (subscription.status !== 'active') {
      return { kind: 'hold' };
    }
    if (lane.stopped) {
      // Set back to active: resume where it stopped.
      lane.stopped = false;
      lane.failures = 0;
      ctx.log.info({ subscription: id }, 'Subscription active again: delivery resumes');
    }
    // The owner changes only with the Subscription (a new version).
    const ownerKey = `${id}|${stored?.version}`;
    const owner = owners.get(ownerKey) ?? (await readOwner(ctx, id));
    if (owner) {
      owners.set(ownerKey, owner);
    }
    let scope: AccessScope;
    try {
      if (!owner) {
        throw new FhirError('FST_FORBIDDEN', 'it has no owner');
      }
      scope = await ownerScope(ctx, owner);
    } catch (err) {
      if (!(err instanceof FhirError)) {
        throw err;
      }
      return { kind: 'stop', subscription, reason: `The Subscription's owner can no longer read through it (${err.message}); a project administrator must update it` };
    }
    const type = criteriaType(subscription);
    const readable = type ? scope.forType(type) : undefined;
    if (!readable || !(readable.interactions.has('read') || readable.interactions.has('search'))) {
      return { kind: 'stop', subscription, reason: `The Subscription's owner may no longer read ${type ?? 'the resources of its criteria'}; a project administrator must update it` };
    }
    return { kind: 'deliver', subscription, scope, settings: deliverySettings(subscription) };
  }

  /** Sends the lane's next batch in order until one fails; fills `finished`, answers the failure if any. */
  async function deliverBatch(id: string, ready: Extract<Prepared, { kind: 'deliver' }>, finished: Finished[]): Promise<string | undefined> {
    const batch = await pendingBatch(ctx.database, id, policy.batchSize);
    if (batch.length === 0) {
      return undefined;
    }
    const versions = await versionsOf(ctx.database, batch);
    let endpoint: CheckedEndpoint;
    try {
      // Checked again before every batch (the name may resolve elsewhere now); the batch connects to that address.
      endpoint = await checkEndpoint(ready.subscription.channel?.endpoint, ctx.endpoints);
    } catch (err) {
      if (err instanceof EndpointError) {
        return err.message;
      }
      throw err;
    }
    const agent = endpoint.url.protocol === 'https:' ? new HttpsAgent({ keepAlive: true, maxSockets: 1 }) : new HttpAgent({ keepAlive: true, maxSockets: 1 });
    try {
      // Leave time to record the batch before the lease runs out (another instance would take the lane).
      const stopBy = ctx.clock.now().getTime() + policy.leaseMs / 2;
      for (const n of batch) {
        if (loop.stopped || ctx.clock.now().getTime() > stopBy) {
          return undefined;
        }
        const entry = versions.get(`${n.resourceType}/${n.resourceId}/${n.version}`);
        const access = ready.scope.forType(n.resourceType);
        if (!entry) {
          finished.push({ _id: n._id, outcome: 'dropped', reason: 'the resource version no longer exists' });
          continue;
        }
        if (!access || !(await visible(ctx, ready.scope, entry.resource, 'read'))) {
          finished.push({ _id: n._id, outcome: 'dropped', reason: "the Subscription's owner may not read this resource" });
          continue;
        }
        const { headers, body } = notificationRequest(ready.settings, n, redact(access, entry.resource));
        try {
          const status = await postNotification(endpoint, headers, body, limits, agent);
          if (status < 200 || status > 299) {
            return `the endpoint answered HTTP ${status}`;
          }
        } catch (err) {
          if (err instanceof DeliveryError) {
            return err.message;
          }
          throw err;
        }
        finished.push({ _id: n._id, outcome: 'delivered' });
      }
      return undefined;
    } finally {
      agent.destroy();
    }
  }

  /** Serves one lane; answers how many notifications it delivered. */
  async function runLane(id: string): Promise<number> {
    const lane = await claim(id);
    if (!lane) {
      return 0;
    }
    const finished: Finished[] = [];
    let outcome: LaneOutcome = { kind: 'idle' };
    try {
      const ready = await prepare(lane, id);
      if (ready.kind === 'drop') {
        // Deleted or switched off: what is queued is dropped.
        for (const n of await notifications(ctx.database).find({ subscription: id }).limit(policy.batchSize).toArray()) {
          finished.push({ _id: n._id, outcome: 'dropped', reason: ready.reason });
        }
      } else if (ready.kind === 'stop') {
        await stopSubscription(ready.subscription, ready.reason);
        outcome = { kind: 'stop', reason: ready.reason };
      } else if (ready.kind === 'deliver') {
        const failure = await deliverBatch(id, ready, finished);
        if (finished.some((f) => f.outcome === 'delivered')) {
          lane.failures = 0;
        }
        if (failure) {
          const reason = `Delivery to the endpoint failed: ${failure}`;
          const failures = lane.failures + 1;
          ctx.log.info({ subscription: id, failures, error: failure }, 'Subscription notification not delivered; it will be retried');
          if (failures >= policy.maxFailures) {
            await stopSubscription(ready.subscription, `${reason} (${failures} failures in a row)`);
            outcome = { kind: 'stop', reason };
          } else {
            outcome = { kind: 'failed', reason };
          }
        }
      }
      const dropped = finished.filter((f) => f.outcome === 'dropped');
      if (dropped.length > 0) {
        ctx.log.info({ subscription: id, dropped: dropped.length, reason: dropped[0].reason }, 'Subscription notifications given up (not sent)');
      }
      return finished.length - dropped.length;
    } finally {
      try {
        await recordFinished(ctx.database, finished);
      } finally {
        await release(lane, outcome);
      }
    }
  }

  async function drain(): Promise<number> {
    let delivered = 0;
    try {
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
