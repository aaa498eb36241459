import type { Bundle } from '@medplum/fhirtypes';
import type { FastifyPluginAsync, FastifyRequest, LightMyRequestResponse } from 'fastify';
import { fhirBase } from '../fhir/bundle';
import { runBatch } from './bundle/batch';
import { readBundle, readEntry, type BundleEntryRequest } from './bundle/entries';
import { responseEntry, writes, type EntryOutcome } from './bundle/perform';
import { runTransaction } from './bundle/transaction';
import { forgetCachedAccess, preferOf } from './replies';
import { callerScope, FHIR_JSON, requireJsonBody, type FhirRouteOptions } from './request-helpers';
import { schemas } from './route-schemas';

/** The headers a request sent to an entry's route carries: the caller's credentials and the entry's conditions. */
function entryHeaders(request: FastifyRequest, entry: BundleEntryRequest): Record<string, string> {
  const headers: Record<string, string> = { 'x-request-id': `${request.id}.${entry.index}` };
  const copy = (name: string): void => {
    const value = request.headers[name];
    if (typeof value === 'string') {
      headers[name] = value;
    }
  };
  copy('authorization');
  copy('prefer');
  if (entry.resource) {
    headers['content-type'] = 'application/fhir+json';
  }
  const conditions = { 'if-match': entry.ifMatch, 'if-none-match': entry.ifNoneMatch, 'if-none-exist': entry.ifNoneExist, 'if-modified-since': entry.ifModifiedSince };
  for (const [name, value] of Object.entries(conditions)) {
    if (value !== undefined) {
      headers[name] = value;
    }
  }
  return headers;
}

/** What a route answered, as a response entry carries it. */
function routeOutcome(res: LightMyRequestResponse, base: string): EntryOutcome {
  const outcome: EntryOutcome = { status: res.statusCode };
  let body: { resourceType?: unknown } | undefined;
  try {
    body = res.body ? (JSON.parse(res.body) as { resourceType?: unknown }) : undefined;
  } catch {
    body = undefined;
  }
  if (body && typeof body.resourceType === 'string') {
    if (body.resourceType === 'OperationOutcome' && res.statusCode >= 400) {
      outcome.outcome = body as EntryOutcome['outcome'];
    } else {
      outcome.resource = body as EntryOutcome['resource'];
    }
  }
  const { etag, location } = res.headers;
  if (typeof etag === 'string') {
    outcome.etag = etag;
  }
  if (typeof location === 'string') {
    outcome.location = location.startsWith(base) ? location.slice(base.length) : location;
  }
  const lastModified = Date.parse(String(res.headers['last-modified'] ?? ''));
  if (!Number.isNaN(lastModified)) {
    outcome.lastModified = new Date(lastModified);
  }
  return outcome;
}

/** POST /fhir/R4: batch and transaction Bundles (see bundle/). */
export const bundleRoutes: FastifyPluginAsync<FhirRouteOptions> = async (app, { ctx, deps }) => {
  const preHandler = ctx.auth.authenticateHook;
  const base = fhirBase(deps.baseUrl);

  app.post('/', { schema: schemas.bundle, preValidation: requireJsonBody, preHandler }, async (request, reply) => {
    const { kind, entries } = readBundle(request.body);
    const prefer = preferOf(request);
    let outcomes: EntryOutcome[];
    if (kind === 'transaction') {
      const scope = await callerScope(ctx, request);
      const parsed = entries.map((raw, index) => readEntry(raw, index, deps.baseUrl));
      try {
        outcomes = await runTransaction(deps, scope, parsed, prefer);
      } finally {
        forgetCachedAccess(ctx, parsed.filter(writes).map((e) => e.type as string));
      }
    } else {
      outcomes = await runBatch(
        {
          deps,
          baseUrl: deps.baseUrl,
          scope: () => callerScope(ctx, request),
          wrote: (type) => forgetCachedAccess(ctx, [type]),
          route: async (entry) => {
            const url = `${app.prefix}/${entry.path}${entry.query ? `?${entry.query}` : ''}`;
            const payload = entry.resource ? JSON.stringify(entry.resource) : undefined;
            const res = await app.inject({ method: entry.method, url, headers: entryHeaders(request, entry), payload, remoteAddress: request.ip });
            return routeOutcome(res, base);
          },
          log: request.log,
        },
        entries,
        prefer,
      );
    }
    const bundle: Bundle = { resourceType: 'Bundle', type: kind === 'batch' ? 'batch-response' : 'transaction-response' };
    if (outcomes.length > 0) {
      bundle.entry = outcomes.map((outcome) => responseEntry(deps.baseUrl, outcome));
    }
    return reply.status(200).type(FHIR_JSON).send(bundle);
  });
};
