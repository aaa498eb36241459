import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import type { AccessScope } from '../../access/access-scope';
import { redact, requireInteraction } from '../../access/enforce';
import { newId } from '../../clock';
import { badRequest, FhirError } from '../../errors';
import { touchConditionalGuard } from '../../fhir/conditional-guard';
import type { StoredResource } from '../../fhir/repository';
import { findConditionalMatch, ifNoneExistPairs, parseCriteria, RUN_NOW, urlCriteriaPairs, type Criteria } from '../rest/conditional';
import type { Preferences } from '../rest/prefer';
import type { RestDeps } from '../rest/rest-deps';
import { assertResourceBody } from '../rest/write';
import { inOneTransaction } from '../rest/write-rules';
import type { BundleEntryRequest } from './entries';
import { performEntry, queryObject, writtenOutcome, type EntryOutcome } from './perform';
import { createOrder, resolveReferences } from './references';

/**
 * A transaction Bundle: every entry in ONE database transaction, all or nothing. Entries run in
 * FHIR's order (DELETE, then POST, then PUT and PATCH, then GET and HEAD; a POST after the POSTs
 * it references by urn:uuid), answered in request order. Before any create, each POST gets its id (or, with ifNoneExist, the resource it matches),
 * and every `urn:uuid:` reference in the entries is replaced by the `Type/id` its entry got. The
 * first entry refused refuses the whole Bundle with its status and an OperationOutcome naming it;
 * nothing is written. Access is checked per entry by the same functions as single requests, with
 * the caller's access as it was when the Bundle arrived. Operations (`$invite`...) and history
 * are refused here: an operation commits its own transaction (send them in a batch).
 */

const PHASE: Readonly<Record<BundleEntryRequest['method'], number>> = { DELETE: 0, POST: 1, PUT: 2, PATCH: 2, GET: 3, HEAD: 3 };

/** 400 for entries a transaction cannot carry, or that contradict each other. */
function checkEntries(entries: readonly BundleEntryRequest[]): void {
  const written = new Map<string, number>();
  const fullUrls = new Map<string, number>();
  for (const entry of entries) {
    const at = `Bundle.entry[${entry.index}]`;
    if (entry.kind === 'route' || entry.kind === 'history') {
      const what = entry.path.includes('$') ? 'an operation, which commits its own transaction' : entry.kind === 'history' ? 'a history read' : 'a request this server can only run on its own';
      throw badRequest(`${at} (${entry.method} ${entry.url.slice(0, 100)}) is ${what}: it cannot be part of a transaction; send it in a batch or alone`, `${at}.request.url`);
    }
    if (entry.fullUrl !== undefined) {
      const first = fullUrls.get(entry.fullUrl);
      if (first !== undefined) {
        throw badRequest(`${at}.fullUrl is also the fullUrl of Bundle.entry[${first}]`, `${at}.fullUrl`);
      }
      fullUrls.set(entry.fullUrl, entry.index);
    }
    if ((entry.kind === 'update' || entry.kind === 'patch' || entry.kind === 'delete') && entry.id) {
      const key = `${entry.type}/${entry.id}`;
      const first = written.get(key);
      if (first !== undefined) {
        throw badRequest(`${at} changes ${key}, which Bundle.entry[${first}] changes too: a transaction changes a resource once`, `${at}.request.url`);
      }
      written.set(key, entry.index);
    }
  }
}

/** The criteria of each conditional entry (parsed before anything runs: a bad one is a 400 at once). */
function criteriaOf(entries: readonly BundleEntryRequest[]): Map<number, Criteria> {
  const criteria = new Map<number, Criteria>();
  const creates = new Map<string, number>();
  for (const entry of entries) {
    const type = entry.type as string;
    try {
      if (entry.kind === 'create' && entry.ifNoneExist !== undefined) {
        const parsed = parseCriteria(type, ifNoneExistPairs(type, entry.ifNoneExist), 'If-None-Exist');
        const first = creates.get(parsed.key);
        if (first !== undefined) {
          // Both would find nothing before either creates: the transaction would create two.
          throw badRequest(`ifNoneExist is the same as that of Bundle.entry[${first}]: a transaction creates one resource per criteria`, 'If-None-Exist');
        }
        creates.set(parsed.key, entry.index);
        criteria.set(entry.index, parsed);
      } else if (entry.kind === 'conditional-update' || entry.kind === 'conditional-delete') {
        criteria.set(entry.index, parseCriteria(type, urlCriteriaPairs(queryObject(entry.query)), entry.kind === 'conditional-update' ? 'update' : 'delete'));
      }
    } catch (err) {
      throw inEntry(entry, err);
    }
  }
  return criteria;
}

const HEADER_FIELDS: Readonly<Record<string, string>> = { 'If-Match': 'ifMatch', 'If-None-Exist': 'ifNoneExist', 'If-None-Match': 'ifNoneMatch', 'If-Modified-Since': 'ifModifiedSince' };

/** An expression of a single request's error, as a path in the Bundle. */
function entryExpression(entry: BundleEntryRequest, expression: string): string {
  const at = `Bundle.entry[${entry.index}]`;
  if (HEADER_FIELDS[expression]) {
    return `${at}.request.${HEADER_FIELDS[expression]}`;
  }
  if (expression.startsWith('patch[')) {
    return `${at}.resource.data`;
  }
  if (expression.startsWith(at)) {
    return expression;
  }
  if (entry.resource && entry.type && (expression === entry.type || expression.startsWith(`${entry.type}.`))) {
    return `${at}.resource${expression.slice(entry.type.length)}`;
  }
  if (entry.resource && /^(?:id|resourceType|meta(?:\.[a-z]+)?)$/.test(expression)) {
    return `${at}.resource.${expression}`;
  }
  return `${at}.request.url`;
}

/** An entry's refusal as the refusal of the whole transaction: the entry named, its status kept. */
export function inEntry(entry: BundleEntryRequest, err: unknown): unknown {
  if (!(err instanceof FhirError)) {
    return err;
  }
  const label = `Bundle.entry[${entry.index}] (${entry.method} ${entry.url.slice(0, 100)})`;
  const issues: OperationOutcomeIssue[] = err.issues.map((i) => {
    const text = `${label}: ${i.details?.text ?? i.diagnostics ?? err.message}`;
    const expression = (i.expression ?? []).map((e) => entryExpression(entry, e));
    return { ...i, details: { text }, diagnostics: text, expression: expression.length > 0 ? expression : [`Bundle.entry[${entry.index}]`] };
  });
  const wrapped = new FhirError(err.code, issues[0]?.details?.text, undefined, issues);
  wrapped.headers = err.headers;
  return wrapped;
}

/** Holds every key (sorted, so two Bundles never wait for each other in a circle), then runs fn. */
async function withKeys<T>(lock: RestDeps['writeLock'], keys: Iterable<string>, fn: () => Promise<T>): Promise<T> {
  const sorted = [...new Set(keys)].sort();
  const step = (i: number): Promise<T> => (i === sorted.length ? fn() : lock.run(sorted[i], () => step(i + 1)));
  return step(0);
}

/** What a POST entry will do: create with this id, or answer the resource its ifNoneExist matched. */
type PostPlan = { id: string; existing?: StoredResource };

/** Runs a transaction Bundle's entries; answers their outcomes in request order. */
export async function runTransaction(deps: RestDeps, scope: AccessScope, entries: readonly BundleEntryRequest[], prefer: Preferences): Promise<EntryOutcome[]> {
  checkEntries(entries);
  const criteria = criteriaOf(entries);
  const literal = entries.filter((e) => e.id && e.kind !== 'read' && e.kind !== 'vread').map((e) => `${e.type}/${e.id}`);
  const ordered = [...entries].sort((a, b) => PHASE[a.method] - PHASE[b.method] || a.index - b.index);
  return withKeys(deps.writeLock, [...literal, ...[...criteria.values()].map((c) => c.key)], () =>
    inOneTransaction(deps, scope, 'transaction', async (repo) => {
      const tx: RestDeps = { ...deps, session: repo.session, writeLock: RUN_NOW, operation: 'transaction' };
      const outcomes: EntryOutcome[] = [];
      const run = async (entry: BundleEntryRequest, fn: () => Promise<EntryOutcome>): Promise<void> => {
        try {
          outcomes[entry.index] = await fn();
        } catch (err) {
          throw inEntry(entry, err);
        }
      };
      for (const entry of ordered.filter((e) => e.method === 'DELETE')) {
        await run(entry, () => performEntry(tx, scope, entry, prefer));
      }
      // Each POST's id (or the resource its ifNoneExist matched), then the urn:uuid references.
      const posts = ordered.filter((e) => e.method === 'POST');
      const plans = new Map<number, PostPlan>();
      const targets = new Map<string, string>();
      for (const entry of posts) {
        const found = criteria.get(entry.index);
        let plan: PostPlan = { id: newId() };
        if (found) {
          const existing = await (async () => {
            requireInteraction(scope, entry.type as string, 'create');
            assertResourceBody(entry.resource, entry.type as string);
            await touchConditionalGuard(tx, repo.session, found.key);
            return findConditionalMatch(tx, scope, entry.type as string, found, 'If-None-Exist');
          })().catch((err: unknown) => {
            throw inEntry(entry, err);
          });
          plan = existing ? { id: existing._id, existing } : plan;
        }
        plans.set(entry.index, plan);
        if (entry.fullUrl?.startsWith('urn:uuid:')) {
          targets.set(entry.fullUrl, `${entry.type}/${plan.id}`);
        }
      }
      const resolved = resolveReferences(entries, targets);
      for (const entry of createOrder(posts)) {
        const plan = plans.get(entry.index) as PostPlan;
        const resolvedEntry = { ...resolved[entry.index], ifNoneExist: undefined };
        await run(entry, async () => {
          if (!plan.existing) {
            return performEntry(tx, scope, resolvedEntry, prefer, plan.id);
          }
          const access = scope.forType(entry.type as string);
          const resource = access ? redact(access, plan.existing.resource) : plan.existing.resource;
          return writtenOutcome(prefer, { resource, version: plan.existing.version, lastUpdated: plan.existing.lastUpdated }, 200, 'Found (ifNoneExist), nothing created:');
        });
      }
      for (const entry of ordered.filter((e) => PHASE[e.method] >= 2)) {
        await run(entry, () => performEntry(tx, scope, resolved[entry.index], prefer));
      }
      return outcomes;
    }),
  );
}
