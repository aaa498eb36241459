import type { ClientSession, Filter } from 'mongodb';
import type { Reference, Resource, StructureDefinition } from '@medplum/fhirtypes';
import { newId } from '../clock';
import type { Store } from '../db/store';
import { recordWrite } from '../db/commit-ledger';
import { DuplicateKeyError, isDuplicateKey, withTransaction } from '../db/transaction';
import { conflict, gone, notFound, preconditionFailed } from '../errors';
import { notifyListeners, type ChangeSource, type WrittenVersion } from './changes';
import { currentCollection, historyCollection } from './resource-types';
import { computeSearchFields } from './search/index-fields';
import { uniqueKeyFor } from './unique-keys';
import { validateFhirResource } from './validation';

/**
 * fhir/ — storage layer: resources as the FHIR JSON they are, one collection per type, every
 * version in a history collection, derived search fields and search (search/), validation, the
 * definitions loaded from fhir-profiles/, unique keys and bundle builders. It imports db/ and the
 * base only: no domain, no HTTP. Domains that must write with a change hook in (changes.ts).
 *
 * Plain data functions over the resource collections. No access control here: callers (the
 * REST routes, the invite service) decide who may do what, then call these.
 */
export interface RepoContext extends Store, ChangeSource {
  /** When given, every read and write joins this transaction. */
  session?: ClientSession;
  /** Known profiles by canonical URL: a resource naming one in meta.profile is checked against it. */
  profiles?: ReadonlyMap<string, StructureDefinition>;
}

/** The stored shape of the current version of a resource (collection named after the type). */
export interface StoredResource<T extends Resource = Resource> extends WrittenVersion<T> {
  /** Derived search fields, computed from SearchParameter definitions at write time. */
  sp: Record<string, unknown>;
  /** The unique key (see unique-keys.ts), under a unique partial index; absent when deleted. */
  uk?: string;
}

/** One version in `{type}_history`; `_id` is `{id}/{version}`. */
export interface HistoryEntry<T extends Resource = Resource> {
  _id: string;
  id: string;
  version: number;
  lastUpdated: Date;
  project?: string;
  deleted: boolean;
  method: 'POST' | 'PUT' | 'DELETE';
  resource: T;
}

export interface WriteOptions {
  /** The project that owns the resource (meta.project). */
  project?: string;
  /** Who wrote it (meta.author). */
  author?: Reference;
  /** A required current version (from If-Match); a mismatch is 412. */
  ifMatch?: string;
  /** Skip validation (only for resources the server itself built and already checked). */
  skipValidation?: boolean;
  /**
   * Overrides the unique key: a string, or null for none. Used by a forced extra membership.
   * When absent, updates keep an existing key whose default part is unchanged.
   */
  uniqueKey?: string | null;
}

function prepare<T extends Resource>(resource: T, id: string, version: number, now: Date, options: WriteOptions, previousProject?: string): T {
  const project = options.project ?? previousProject ?? resource.meta?.project;
  const meta: NonNullable<Resource['meta']> = { ...(resource.meta ?? {}), versionId: String(version), lastUpdated: now.toISOString() };
  if (project) {
    meta.project = project;
  } else {
    delete meta.project;
  }
  if (options.author) {
    meta.author = options.author;
  }
  return { ...resource, id, meta } as T;
}

async function inTransaction<T>(ctx: RepoContext, fn: (session: ClientSession) => Promise<T>): Promise<T> {
  if (ctx.session) {
    return fn(ctx.session);
  }
  return withTransaction(ctx.database, fn);
}

async function writeVersion<T extends Resource>(
  ctx: RepoContext,
  session: ClientSession,
  doc: StoredResource<T>,
  method: HistoryEntry['method'],
  previous?: StoredResource<T>,
): Promise<void> {
  const previousVersion = previous?.version;
  const type = doc.resource.resourceType;
  const current = ctx.database.db.collection<StoredResource>(currentCollection(type));
  if (previousVersion === undefined) {
    await current.insertOne(doc as StoredResource, { session });
    recordWrite(session, { collection: currentCollection(type), id: doc._id });
  } else {
    const result = await current.replaceOne({ _id: doc._id, version: previousVersion }, doc as StoredResource, { session });
    if (result.matchedCount === 0) {
      throw preconditionFailed(`${type}/${doc._id} was changed by someone else; read it again and retry`);
    }
    recordWrite(session, { collection: currentCollection(type), id: doc._id, match: { version: doc.version }, replaced: true });
  }
  const entry: HistoryEntry<T> = {
    _id: `${doc._id}/${doc.version}`,
    id: doc._id,
    version: doc.version,
    lastUpdated: doc.lastUpdated,
    project: doc.project,
    deleted: doc.deleted,
    method,
    resource: doc.resource,
  };
  await ctx.database.db.collection<HistoryEntry>(historyCollection(type)).insertOne(entry as HistoryEntry, { session });
  if (previousVersion === undefined) {
    // The first version's entry is this transaction's own (a later one's id may be another writer's).
    recordWrite(session, { collection: historyCollection(type), id: entry._id });
  }
  await notifyListeners(ctx, session, doc, method, previous);
}

function toStored<T extends Resource>(resource: T, version: number, now: Date, deleted: boolean, uk?: string): StoredResource<T> {
  const doc: StoredResource<T> = {
    _id: resource.id as string,
    version,
    lastUpdated: now,
    project: resource.meta?.project,
    deleted,
    resource,
    sp: deleted ? {} : computeSearchFields(resource),
  };
  if (uk && !deleted) {
    doc.uk = uk;
  }
  return doc;
}

/** Creates a resource with a server-assigned id (or options-free given id for internal use). */
export async function createResource<T extends Resource>(ctx: RepoContext, resource: T, options: WriteOptions = {}, id: string = newId()): Promise<T> {
  if (!options.skipValidation) {
    validateFhirResource(resource, ctx.profiles);
  }
  const now = ctx.clock.now();
  const prepared = prepare(resource, id, 1, now, options);
  try {
    await inTransaction(ctx, (session) => writeVersion(ctx, session, toStored(prepared, 1, now, false, uniqueKeyFor(prepared, options.uniqueKey)), 'POST'));
  } catch (err) {
    if (isDuplicateKey(err)) {
      throw conflict(`A ${resource.resourceType} with the same unique key already exists`);
    }
    throw err;
  }
  return prepared;
}

/** The stored document, or undefined when there is none (deleted ones are returned). */
export async function readStored<T extends Resource>(ctx: RepoContext, type: string, id: string): Promise<StoredResource<T> | undefined> {
  const doc = await ctx.database.db.collection<StoredResource>(currentCollection(type)).findOne({ _id: id }, { session: ctx.session });
  return (doc as StoredResource<T> | null) ?? undefined;
}

/** The current version; 404 when it never existed, 410 when deleted. */
export async function readResource<T extends Resource>(ctx: RepoContext, type: string, id: string): Promise<T> {
  const doc = await readStored<T>(ctx, type, id);
  if (!doc) {
    throw notFound(`${type}/${id} not found`);
  }
  if (doc.deleted) {
    throw gone(`${type}/${id} was deleted`);
  }
  return doc.resource;
}

/** Finds current, non-deleted resources by a filter on stored documents. */
export async function findResources<T extends Resource>(ctx: RepoContext, type: string, filter: Filter<StoredResource>, limit = 100): Promise<T[]> {
  const docs = await ctx.database.db
    .collection<StoredResource>(currentCollection(type))
    .find({ ...filter, deleted: false }, { session: ctx.session, limit })
    .toArray();
  return docs.map((d) => d.resource as T);
}

/** The id in a reference like 'Project/123', or undefined when it is not a plain reference of that type. */
export function idOf(reference: Reference | undefined, type: string): string | undefined {
  const value = reference?.reference;
  if (typeof value !== 'string' || !value.startsWith(`${type}/`)) {
    return undefined;
  }
  const id = value.slice(type.length + 1);
  return id && !id.includes('/') ? id : undefined;
}

/** The current version of a resource when it exists and is not deleted, else undefined. */
export async function readCurrent<T extends Resource>(ctx: RepoContext, type: string, id: string | undefined): Promise<T | undefined> {
  if (!id) {
    return undefined;
  }
  const doc = await readStored<T>(ctx, type, id);
  return doc && !doc.deleted ? doc.resource : undefined;
}

function parseIfMatch(ifMatch: string): number | undefined {
  const match = /^(?:W\/)?"?(\d+)"?$/.exec(ifMatch.trim());
  return match ? Number(match[1]) : undefined;
}

export interface UpdateResult<T> {
  resource: T;
  created: boolean;
}

/**
 * Replaces a resource (PUT). Creates it with the given id when it does not exist. A version
 * guard makes concurrent updates from the same version fail with 412 except one.
 */
export async function updateResource<T extends Resource>(ctx: RepoContext, resource: T, options: WriteOptions = {}): Promise<UpdateResult<T>> {
  if (!options.skipValidation) {
    validateFhirResource(resource, ctx.profiles);
  }
  const type = resource.resourceType;
  const id = resource.id as string;
  const expected = options.ifMatch !== undefined ? parseIfMatch(options.ifMatch) : undefined;
  if (options.ifMatch !== undefined && expected === undefined) {
    throw preconditionFailed('If-Match must look like W/"3"', 'If-Match');
  }
  try {
    return await inTransaction(ctx, async (session) => {
      const existing = await readStored<T>({ ...ctx, session }, type, id);
      if (expected !== undefined && existing?.version !== expected) {
        throw preconditionFailed(`If-Match W/"${expected}" does not match the current version W/"${existing?.version ?? 0}" of ${type}/${id}`, 'If-Match');
      }
      const now = ctx.clock.now();
      const version = (existing?.version ?? 0) + 1;
      const prepared = prepare(resource, id, version, now, options, existing?.project);
      await writeVersion(ctx, session, toStored(prepared, version, now, false, uniqueKeyFor(prepared, options.uniqueKey, existing)), 'PUT', existing);
      return { resource: prepared, created: !existing };
    });
  } catch (err) {
    if (err instanceof DuplicateKeyError || isDuplicateKey(err)) {
      throw conflict(`${type}/${id} conflicts with an existing resource`);
    }
    throw err;
  }
}

/** Marks a resource deleted (a new version); later reads answer 410. Unknown id → 404. */
export async function deleteResource(ctx: RepoContext, type: string, id: string): Promise<void> {
  await inTransaction(ctx, async (session) => {
    const existing = await readStored({ ...ctx, session }, type, id);
    if (!existing) {
      throw notFound(`${type}/${id} not found`);
    }
    if (existing.deleted) {
      return;
    }
    const now = ctx.clock.now();
    const version = existing.version + 1;
    const resource = prepare(existing.resource, id, version, now, {}, existing.project);
    await writeVersion(ctx, session, toStored(resource, version, now, true), 'DELETE', existing);
  });
}

/** One version of a resource; 404 when there is no such version. */
export async function readVersion<T extends Resource>(ctx: RepoContext, type: string, id: string, version: number): Promise<HistoryEntry<T>> {
  const entry = await ctx.database.db.collection<HistoryEntry>(historyCollection(type)).findOne({ _id: `${id}/${version}` }, { session: ctx.session });
  if (!entry) {
    throw notFound(`${type}/${id} has no version ${version}`);
  }
  return entry as HistoryEntry<T>;
}
