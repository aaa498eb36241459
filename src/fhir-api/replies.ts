import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../app-context';
import { fhirBase } from '../fhir/bundle';
import { notModified, type ConditionalReadHeaders } from './rest/conditional-read';
import { parsePrefer, writtenBody, type Preferences } from './rest/prefer';
import type { ReadResult } from './rest/read';
import { FHIR_JSON } from './request-helpers';

/** Types whose writes change what resolveAccessScope answers: memberships, policies, `%patient`. */
export const SCOPE_TYPES: ReadonlySet<string> = new Set(['ProjectMembership', 'AccessPolicy', 'RelatedPerson']);
/** Types whose writes may end sign-in grants (see checkGrant in src/accounts/memberships.ts). */
export const GRANT_TYPES: ReadonlySet<string> = new Set(['ProjectMembership', 'User', 'ClientApplication', 'Project']);

/**
 * After a write (even a failed one) to a type that may change access scopes or end grants:
 * this instance's caches of them are cleared, so that the change applies here at once.
 */
export function forgetCachedAccess(ctx: AppContext, types: Iterable<string>): void {
  const list = [...types];
  if (list.some((t) => SCOPE_TYPES.has(t))) {
    ctx.access.scopes.clear();
  }
  if (list.some((t) => GRANT_TYPES.has(t))) {
    ctx.auth.forgetSessions();
  }
}

/** The request's Prefer header, read. */
export const preferOf = (request: FastifyRequest): Preferences => parsePrefer(request.headers.prefer);

const single = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

/** The conditional-read headers of a request. */
export function conditionalReadHeaders(request: FastifyRequest): ConditionalReadHeaders {
  return { ifNoneMatch: single(request.headers['if-none-match']), ifModifiedSince: single(request.headers['if-modified-since']) };
}

/** The Location of a version: `{base}{type}/{id}/_history/{version}`. */
export const versionLocation = (baseUrl: string, result: ReadResult): string => `${fhirBase(baseUrl)}${result.resource.resourceType}/${result.resource.id}/_history/${result.version}`;

/**
 * Answers a read with its ETag and Last-Modified, or 304 Not Modified (no body, the same
 * headers) when If-None-Match or If-Modified-Since says the caller has this version already.
 */
export function sendRead(request: FastifyRequest, reply: FastifyReply, result: ReadResult): FastifyReply {
  reply.header('etag', `W/"${result.version}"`).header('last-modified', result.lastUpdated.toUTCString());
  if (notModified(conditionalReadHeaders(request), result.version, result.lastUpdated)) {
    return reply.status(304).send();
  }
  return reply.status(200).type(FHIR_JSON).send(result.resource);
}

/**
 * Answers a create, update or patch as `Prefer: return=` asks (see rest/prefer.ts), with the
 * version's ETag and Last-Modified (and Location when `location` is set).
 */
export function sendWritten(reply: FastifyReply, prefer: Preferences, result: ReadResult, status: number, done: string, location?: string): FastifyReply {
  reply.status(status).header('etag', `W/"${result.version}"`).header('last-modified', result.lastUpdated.toUTCString());
  if (location) {
    reply.header('location', location);
  }
  if (prefer.return) {
    reply.header('preference-applied', `return=${prefer.return}`);
  }
  const body = writtenBody(prefer.return, result, done);
  return body === undefined ? reply.send() : reply.type(FHIR_JSON).send(body);
}
