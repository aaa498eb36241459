import { STATUS_CODES } from 'node:http';
import type { BundleEntry, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { AccessScope } from '../../access/access-scope';
import { isDatabaseUnavailable } from '../../db/unavailable';
import { FhirError, issue, outcomeOk } from '../../errors';
import { fullUrl } from '../../fhir/bundle';
import { conditionalCreateForCaller, conditionalDeleteForCaller, conditionalUpdateForCaller } from '../rest/conditional';
import { notModified } from '../rest/conditional-read';
import { historyForCaller } from '../rest/history';
import { patchForCaller } from '../rest/patch';
import { writtenBody, type Preferences } from '../rest/prefer';
import { readForCaller, readVersionForCaller, type ReadResult } from '../rest/read';
import type { RestDeps } from '../rest/rest-deps';
import { searchForCaller } from '../rest/search';
import { createForCaller, deleteForCaller, updateForCaller } from '../rest/write';
import { entryResource, type BundleEntryRequest } from './entries';

/** What one entry answered: its status, headers and body, as a response entry carries them. */
export interface EntryOutcome {
  status: number;
  resource?: Resource;
  outcome?: OperationOutcome;
  /** Relative to the FHIR base: `Patient/1/_history/1`. */
  location?: string;
  etag?: string;
  lastModified?: Date;
}

/** The query of an entry's url as the REST functions take it (a name given twice keeps both values). */
export function queryObject(query: string): Record<string, string | string[]> {
  const result: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(query)) {
    const previous = result[name];
    result[name] = previous === undefined ? value : [previous, value].flat();
  }
  return result;
}

const versionHeaders = (result: ReadResult): Pick<EntryOutcome, 'etag' | 'lastModified'> => ({ etag: `W/"${result.version}"`, lastModified: result.lastUpdated });

/** A read's outcome: 304 when the entry's ifNoneMatch / ifModifiedSince say the caller has it. */
export function readOutcome(entry: BundleEntryRequest, result: ReadResult): EntryOutcome {
  if (notModified(entry, result.version, result.lastUpdated)) {
    return { status: 304, ...versionHeaders(result) };
  }
  return { status: 200, ...(entry.method === 'HEAD' ? {} : { resource: result.resource }), ...versionHeaders(result) };
}

/** A create's, update's or patch's outcome, with the body `Prefer: return=` asks for. */
export function writtenOutcome(prefer: Preferences, result: ReadResult, status: number, done: string): EntryOutcome {
  const body = writtenBody(prefer.return, result, done);
  const outcome: EntryOutcome = { status, ...versionHeaders(result) };
  if (status === 201) {
    outcome.location = `${result.resource.resourceType}/${result.resource.id}/_history/${result.version}`;
  }
  if (body?.resourceType === 'OperationOutcome' && prefer.return === 'OperationOutcome') {
    outcome.outcome = body as OperationOutcome;
  } else if (body) {
    outcome.resource = body as Resource;
  }
  return outcome;
}

/**
 * Performs one REST entry as the caller of `scope`, through the same functions as the single
 * requests (so the same access checks). `deps` says where it runs: its own writes (a batch) or the
 * transaction of deps.session (a transaction). `id` is a server-chosen id for a create.
 */
export async function performEntry(deps: RestDeps, scope: AccessScope, entry: BundleEntryRequest, prefer: Preferences, id?: string): Promise<EntryOutcome> {
  const type = entry.type as string;
  switch (entry.kind) {
    case 'read':
      return readOutcome(entry, await readForCaller(deps, scope, type, entry.id as string));
    case 'vread':
      return readOutcome(entry, await readVersionForCaller(deps, scope, type, entry.id as string, entry.vid as number));
    case 'search':
      return { status: 200, resource: await searchForCaller(deps, scope, type, queryObject(entry.query), { lenient: prefer.lenient }) };
    case 'history':
      return { status: 200, resource: await historyForCaller(deps, scope, type, entry.id, queryObject(entry.query)) };
    case 'create': {
      if (entry.ifNoneExist !== undefined) {
        const { result, created } = await conditionalCreateForCaller(deps, scope, type, entryResource(entry), entry.ifNoneExist, id);
        return writtenOutcome(prefer, result, created ? 201 : 200, created ? 'Created' : 'Found (ifNoneExist), nothing created:');
      }
      return writtenOutcome(prefer, await createForCaller(deps, scope, type, entryResource(entry), id), 201, 'Created');
    }
    case 'update':
      return writtenOutcome(prefer, await updateForCaller(deps, scope, type, entry.id as string, entryResource(entry), entry.ifMatch), 200, 'Updated');
    case 'conditional-update': {
      const { result, created } = await conditionalUpdateForCaller(deps, scope, type, queryObject(entry.query), entryResource(entry), entry.ifMatch);
      return writtenOutcome(prefer, result, created ? 201 : 200, created ? 'Created' : 'Updated');
    }
    case 'patch':
      return writtenOutcome(prefer, await patchForCaller(deps, scope, type, entry.id as string, entry.patch, entry.ifMatch), 200, 'Patched');
    case 'delete':
      await deleteForCaller(deps, scope, type, entry.id as string);
      return { status: 200, outcome: outcomeOk(`Deleted ${type}/${entry.id}`) };
    case 'conditional-delete': {
      const deleted = await conditionalDeleteForCaller(deps, scope, type, queryObject(entry.query));
      return { status: 200, outcome: outcomeOk(deleted ? `Deleted ${type}/${deleted}` : `No ${type} matched the criteria: nothing was deleted`) };
    }
    default:
      throw new Error(`performEntry cannot run a ${entry.kind} entry`);
  }
}

/** Whether an entry writes (its type's cached access is then forgotten). */
export const writes = (entry: BundleEntryRequest): boolean => !['read', 'vread', 'search', 'history', 'route'].includes(entry.kind);

/** A refused entry of a batch: its status and OperationOutcome (an internal error says nothing more). */
export function errorOutcome(err: unknown, log: { error(obj: unknown, msg: string): void }): EntryOutcome {
  if (err instanceof FhirError) {
    return { status: err.statusCode, outcome: err.outcome };
  }
  if (isDatabaseUnavailable(err)) {
    return { status: 503, outcome: { resourceType: 'OperationOutcome', issue: [issue('transient', 'The database is unreachable right now; send this entry again shortly (read first: it may or may not have been saved)')] } };
  }
  log.error({ err }, 'batch entry failed');
  return { status: 500, outcome: { resourceType: 'OperationOutcome', issue: [issue('exception', 'Internal server error')] } };
}

/** The response entry of an outcome, in a batch-response or transaction-response. */
export function responseEntry(baseUrl: string, outcome: EntryOutcome): BundleEntry {
  const entry: BundleEntry = {};
  const resource = outcome.resource;
  if (resource?.id && resource.resourceType !== 'Bundle' && resource.resourceType !== 'OperationOutcome' && resource.resourceType !== 'Parameters') {
    entry.fullUrl = fullUrl(baseUrl, resource.resourceType, resource.id);
  }
  if (resource) {
    entry.resource = resource;
  }
  entry.response = { status: `${outcome.status} ${STATUS_CODES[outcome.status] ?? ''}`.trim() };
  if (outcome.location) {
    entry.response.location = outcome.location;
  }
  if (outcome.etag) {
    entry.response.etag = outcome.etag;
  }
  if (outcome.lastModified) {
    entry.response.lastModified = outcome.lastModified.toISOString();
  }
  if (outcome.outcome) {
    entry.response.outcome = outcome.outcome;
  }
  return entry;
}
