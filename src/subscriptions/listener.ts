import type { Resource, Subscription } from '@medplum/fhirtypes';
import type { Filter } from 'mongodb';
import { visible } from '../access/confinement';
import { refuseHiddenSearch } from '../access/search-paths';
import { badRequest, FhirError, forbidden } from '../errors';
import { jsonEqual } from '../access/field-paths';
import type { ChangeListener, ResourceChange } from '../fhir/changes';
import type { StoredResource } from '../fhir/repository';
import { currentCollection } from '../fhir/resource-types';
import { documentMatchesSearch, searchDocument } from '../fhir/search/match-document';
import { TtlCache } from '../ttl-cache';
import { parseCriteria, type Criteria } from './criteria';
import { checkEndpoint, EndpointError, type EndpointPolicy } from './endpoint';
import { enqueueNotification, eventId, owners, type Interaction, type OwnerDoc } from './outbox';
import { ownerFromActor, ownerScope, readOwner, saveOwner, type OwnerContext } from './owner';
import { checkSubscriptionShape, QUEUEING_STATUSES } from './subscription-rules';

/**
 * The change listener of rest-hook subscriptions, called in the transaction of every change:
 *
 * 1. A Subscription written by a caller is checked (channel, endpoint with its addresses,
 *    payload, headers, secret, criteria, and that its writer may search the criteria's type);
 *    a refusal is a 400/403 and the whole write rolls back. Its writer becomes its owner.
 * 2. Every change of a resource of a project is matched against the project's Subscriptions
 *    whose status is active or error, read in the change's own transaction: a Subscription is in
 *    effect for every change whose transaction starts after it committed, on every instance (no
 *    cache of the list, so no window in which another instance's new Subscription is missed).
 *    The match is decided in memory on the written version (a delete: on the version it removes)
 *    with the search's own filter semantics; the parsed criteria and owner of each Subscription
 *    version are cached (a version never changes). A matching change the owner can read is queued
 *    in the same transaction: it is delivered if and only if the change commits.
 */

export interface ListenerContext extends OwnerContext {
  endpoints: EndpointPolicy;
}

interface Compiled {
  criteria?: Criteria;
  owner?: OwnerDoc;
}

const COMPILED_TTL_MS = 10 * 60_000;

function interactionOf(change: ResourceChange): Interaction {
  if (change.method === 'DELETE') {
    return 'delete';
  }
  return change.before ? 'update' : 'create';
}

/** Step 1: refuse a Subscription this server cannot deliver safely, and record its owner. */
async function subscriptionWritten(ctx: ListenerContext, change: ResourceChange): Promise<void> {
  if (!change.after) {
    await owners(ctx.database).deleteOne({ _id: change.id }, { session: change.session });
    return;
  }
  const subscription = change.after as Subscription;
  const before = change.before as Subscription | undefined;
  if (!change.actor) {
    // The server's own bookkeeping (the dispatcher setting status error) changes neither where
    // nor what is sent; anything else must come from a member of the project.
    if (before && before.criteria === subscription.criteria && jsonEqual(before.channel, subscription.channel)) {
      return;
    }
    throw forbidden('A Subscription is written by a member of its project: sign in to the project first');
  }
  checkSubscriptionShape(subscription, ctx.endpoints.allowedHosts);
  const criteria = parseCriteria(subscription.criteria);
  if (!before || before.channel?.endpoint !== subscription.channel?.endpoint) {
    try {
      await checkEndpoint(subscription.channel?.endpoint, ctx.endpoints);
    } catch (err) {
      if (err instanceof EndpointError) {
        throw badRequest(err.message, 'Subscription.channel.endpoint');
      }
      throw err;
    }
  }
  const owner = ownerFromActor(change.id, change.version, change.actor);
  const scope = await ownerScope(ctx, owner);
  const access = scope.forType(criteria.type);
  if (!access || !(access.interactions.has('search') || access.interactions.has('read'))) {
    throw new FhirError('FST_FORBIDDEN', `criteria: you may not read ${criteria.type} resources, so you cannot subscribe to them`, 'Subscription.criteria');
  }
  try {
    refuseHiddenSearch(scope, criteria.type, criteria.request);
  } catch (err) {
    throw err instanceof FhirError ? badRequest(`criteria: ${err.message}`, 'Subscription.criteria') : err;
  }
  await saveOwner(ctx, change.session, owner);
}

export function createSubscriptionListener(ctx: ListenerContext): ChangeListener {
  const compiledCache = new TtlCache<Compiled>(ctx.clock, COMPILED_TTL_MS, 2000);
  const warned = new Set<string>();

  async function compile(doc: StoredResource, change: ResourceChange): Promise<Compiled> {
    const key = `${doc._id}|${doc.version}`;
    const cached = compiledCache.get(key);
    if (cached) {
      return cached;
    }
    const compiled: Compiled = {};
    try {
      compiled.criteria = parseCriteria((doc.resource as Subscription).criteria);
    } catch {
      // Stored before a rule existed, or written around the API: it matches nothing.
      if (!warned.has(key)) {
        warned.add(key);
        ctx.log.warn({ subscription: doc._id }, 'A Subscription has criteria this server cannot evaluate; it matches nothing');
      }
    }
    compiled.owner = await readOwner(ctx, doc._id, change.session);
    // Written in this very transaction: not cached (it may still roll back).
    if (!(change.type === 'Subscription' && change.id === doc._id)) {
      compiledCache.set(key, compiled);
    }
    return compiled;
  }

  /** Whether the owner may read the resource; when their access cannot be resolved now, the dispatcher decides. */
  async function ownerMayRead(owner: OwnerDoc | undefined, resource: Resource): Promise<boolean> {
    if (!owner) {
      return true;
    }
    try {
      return await visible(ctx, await ownerScope(ctx, owner), resource, 'read');
    } catch {
      return true;
    }
  }

  return async (change) => {
    if (change.type === 'Subscription') {
      await subscriptionWritten(ctx, change);
    }
    const resource = change.after ?? change.before;
    if (!change.project || !resource) {
      return;
    }
    const filter: Filter<StoredResource> = { project: change.project, deleted: false, 'sp.status': { $in: [...QUEUEING_STATUSES] } };
    const subscriptions = await ctx.database.db.collection<StoredResource>(currentCollection('Subscription')).find(filter, { session: change.session }).toArray();
    if (subscriptions.length === 0) {
      return;
    }
    let doc: object | undefined;
    for (const stored of subscriptions) {
      const { criteria, owner } = await compile(stored, change);
      if (criteria?.type !== change.type) {
        continue;
      }
      doc ??= searchDocument(resource, { id: change.id, lastUpdated: resource.meta?.lastUpdated ? new Date(resource.meta.lastUpdated) : change.lastUpdated, project: change.project });
      let matches: boolean;
      try {
        matches = documentMatchesSearch(change.type, doc, criteria.filters);
      } catch {
        matches = false;
      }
      if (!matches || !(await ownerMayRead(owner, resource))) {
        continue;
      }
      await enqueueNotification(ctx.database, change.session, {
        _id: eventId(stored._id, change.type, change.id, change.version),
        subscription: stored._id,
        project: change.project,
        resourceType: change.type,
        resourceId: change.id,
        version: change.version,
        interaction: interactionOf(change),
        createdAt: change.lastUpdated,
      });
    }
  };
}

