import type { AccessScope } from '../../access/access-scope';
import { redact, requireInteraction } from '../../access/enforce';
import { badRequest, preconditionFailed } from '../../errors';
import { conditionalKey, touchConditionalGuard } from '../../fhir/conditional-guard';
import type { StoredResource } from '../../fhir/repository';
import { parseSearchQuery, queryPairs, type ParsedSearch } from '../../fhir/search/parse-query';
import { SPECIAL_PARAMS } from '../../fhir/search/supported-params';
import type { ReadResult } from './read';
import { runSearchForCaller } from './search';
import { inOneTransaction } from './write-rules';
import type { RestDeps } from './rest-deps';
import { assertResourceBody, createForCaller, deleteForCaller, updateForCaller } from './write';

/**
 * Conditional create (If-None-Exist), conditional update (PUT /{type}?criteria) and conditional
 * delete (DELETE /{type}?criteria). The criteria are a search run AS THE CALLER (the search
 * interaction, their projects and access criteria, never on a hidden field), always strictly
 * (an unknown parameter is a 400 even with `Prefer: handling=lenient`: ignoring one would match
 * more than asked). The search and the write run in ONE transaction that first writes the
 * criteria's guard document (fhir/conditional-guard.ts), so that two identical conditional
 * creates or updates cannot both create; in one process they also wait for each other on a lock.
 */

export type ConditionalWhat = 'If-None-Exist' | 'update' | 'delete';

/** Where the criteria come from, for messages and expressions. */
const SOURCE: Readonly<Record<ConditionalWhat, string>> = { 'If-None-Exist': 'If-None-Exist', update: 'url', delete: 'url' };

/** The criteria pairs of an If-None-Exist header: `identifier=x&name=y` (a leading `?` or `{type}?` is allowed). */
export function ifNoneExistPairs(type: string, header: string): [string, string][] {
  const text = header.trim().replace(new RegExp(`^(?:${type})?\\?`), '');
  return [...new URLSearchParams(text)];
}

/** The criteria pairs of a conditional update or delete: the URL's query. */
export const urlCriteriaPairs = (query: unknown): [string, string][] => queryPairs(query);

export interface Criteria {
  pairs: [string, string][];
  parsed: ParsedSearch;
  /** The lock and guard key: the type and its criteria in a canonical order. */
  key: string;
}

/**
 * Parses the criteria of a conditional interaction: search parameters of the type only (no
 * `_count`, `_sort`, `_include`...: they select pages, not resources), at least one of them.
 */
export function parseCriteria(type: string, pairs: [string, string][], what: ConditionalWhat): Criteria {
  const kept = pairs.filter(([name]) => name !== '_format' && name !== '_pretty');
  for (const [name] of kept) {
    const code = name.split(':')[0];
    if (code.startsWith('_') && !(code in SPECIAL_PARAMS)) {
      throw badRequest(`${name.slice(0, 80)} cannot be part of the criteria of a conditional ${what === 'If-None-Exist' ? 'create' : what}: give search parameters of ${type}`, SOURCE[what] === 'url' ? name.slice(0, 80) : 'If-None-Exist');
    }
  }
  if (kept.length === 0) {
    const how = what === 'If-None-Exist' ? 'If-None-Exist needs search parameters, e.g. If-None-Exist: identifier=http://example.org|123' : `A conditional ${what} needs search parameters in the URL, e.g. ${type}?identifier=http://example.org|123 (or use ${type}/{id})`;
    throw badRequest(how, what === 'If-None-Exist' ? 'If-None-Exist' : undefined);
  }
  const parsed = parseSearchQuery(type, kept);
  parsed.request.count = 2;
  parsed.request.offset = 0;
  parsed.request.total = undefined;
  return { pairs: kept, parsed, key: `conditional:${type}:${conditionalKey(type, kept)}` };
}

/** At most two current matches of the criteria that the caller can find (two is enough to say "several"). */
async function matchesOf(deps: RestDeps, scope: AccessScope, type: string, criteria: Criteria): Promise<StoredResource[]> {
  return (await runSearchForCaller(deps, scope, type, criteria.parsed)).matches;
}

function several(type: string, criteria: Criteria, what: ConditionalWhat): never {
  const text = new URLSearchParams(criteria.pairs).toString().slice(0, 200);
  throw preconditionFailed(`Several ${type} resources match ${text}: the criteria of a conditional ${what === 'If-None-Exist' ? 'create' : what} must select one at most`, what === 'If-None-Exist' ? 'If-None-Exist' : undefined);
}

/** A lock that runs at once: inside a transaction already holding its keys (see RestDeps.writeLock). */
export const RUN_NOW = { run: <T>(_key: string, fn: () => Promise<T>): Promise<T> => fn() };

/**
 * Runs fn holding the criteria's lock, in a transaction (the caller's one when deps has a session)
 * that first writes the criteria's guard; fn gets deps that join that transaction.
 */
async function guarded<T>(deps: RestDeps, scope: AccessScope, criteria: Criteria, fn: (joined: RestDeps) => Promise<T>): Promise<T> {
  return deps.writeLock.run(criteria.key, () =>
    inOneTransaction(deps, scope, deps.operation ?? 'create', async (repo) => {
      await touchConditionalGuard(deps, repo.session, criteria.key);
      return fn({ ...deps, session: repo.session, writeLock: RUN_NOW });
    }),
  );
}

export interface ConditionalWriteResult {
  result: ReadResult;
  /** A resource was created (201) rather than found or updated (200). */
  created: boolean;
}

/**
 * POST /{type} with If-None-Exist: no match creates (201), one match answers it as it is (200,
 * nothing written), several are 412. `id` is a server-chosen id for the new resource (Bundles).
 */
export async function conditionalCreateForCaller(deps: RestDeps, scope: AccessScope, type: string, body: unknown, ifNoneExist: string, id?: string): Promise<ConditionalWriteResult> {
  requireInteraction(scope, type, 'create');
  assertResourceBody(body, type);
  const criteria = parseCriteria(type, ifNoneExistPairs(type, ifNoneExist), 'If-None-Exist');
  return guarded(deps, scope, criteria, async (joined) => {
    const matches = await matchesOf(joined, scope, type, criteria);
    if (matches.length > 1) {
      several(type, criteria, 'If-None-Exist');
    }
    if (matches.length === 1) {
      const doc = matches[0];
      return { result: { resource: redact(requireInteraction(scope, type, 'search'), doc.resource), version: doc.version, lastUpdated: doc.lastUpdated }, created: false };
    }
    return { result: await createForCaller(joined, scope, type, body, id), created: true };
  });
}

/**
 * The matching resource of a conditional interaction, as the caller may see it, or undefined
 * when nothing matches (412 when several do). For a transaction Bundle, which resolves its
 * conditional entries before it writes.
 */
export async function findConditionalMatch(deps: RestDeps, scope: AccessScope, type: string, criteria: Criteria, what: ConditionalWhat): Promise<StoredResource | undefined> {
  const matches = await matchesOf(deps, scope, type, criteria);
  if (matches.length > 1) {
    several(type, criteria, what);
  }
  return matches[0];
}

/**
 * PUT /{type}?criteria: no match creates the resource with a server-assigned id (201; a body `id`
 * is refused: this server assigns ids), one match is updated (200; a body `id` must be its id;
 * If-Match honoured), several are 412.
 */
export async function conditionalUpdateForCaller(deps: RestDeps, scope: AccessScope, type: string, query: unknown, body: unknown, ifMatch?: string): Promise<ConditionalWriteResult> {
  requireInteraction(scope, type, 'update');
  assertResourceBody(body, type);
  const criteria = parseCriteria(type, urlCriteriaPairs(query), 'update');
  return guarded(deps, scope, criteria, async (joined) => {
    const match = await findConditionalMatch(joined, scope, type, criteria, 'update');
    if (!match) {
      if (body.id !== undefined) {
        throw badRequest(`No ${type} matches the criteria and this server assigns ids: leave out id to create one, or update ${type}/{id}`, 'id');
      }
      if (ifMatch !== undefined) {
        throw preconditionFailed(`No ${type} matches the criteria, so If-Match cannot hold`, 'If-Match');
      }
      return { result: await createForCaller(joined, scope, type, body), created: true };
    }
    if (body.id !== undefined && body.id !== match._id) {
      throw badRequest(`The resource id must be the id of the ${type} the criteria select (${match._id}), or left out`, 'id');
    }
    return { result: await updateForCaller(joined, scope, type, match._id, { ...body, id: match._id }, ifMatch), created: false };
  });
}

/**
 * DELETE /{type}?criteria: one match is deleted, none deletes nothing (both 200 with an
 * OperationOutcome saying which), several are 412 (conditionalDelete: single). Answers the id deleted.
 */
export async function conditionalDeleteForCaller(deps: RestDeps, scope: AccessScope, type: string, query: unknown): Promise<string | undefined> {
  requireInteraction(scope, type, 'delete');
  const criteria = parseCriteria(type, urlCriteriaPairs(query), 'delete');
  return deps.writeLock.run(criteria.key, () =>
    inOneTransaction(deps, scope, deps.operation ?? 'delete', async (repo) => {
      const joined: RestDeps = { ...deps, session: repo.session, writeLock: RUN_NOW };
      const match = await findConditionalMatch(joined, scope, type, criteria, 'delete');
      if (!match) {
        return undefined;
      }
      await deleteForCaller(joined, scope, type, match._id);
      return match._id;
    }),
  );
}
