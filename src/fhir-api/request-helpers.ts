import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AccessScope } from '../access/access-scope';
import { resolveAccessScope } from '../access/resolve';
import type { AppContext } from '../app-context';
import { FhirError, notFound, unauthorized } from '../errors';
import { isStoredType, STORED_TYPES } from '../fhir/resource-types';
import type { ReadResult } from './rest/read';
import type { RestDeps } from './rest/rest-deps';

/** What every FHIR route plugin receives: the app's context and the REST functions' dependencies. */
export interface FhirRouteOptions {
  ctx: AppContext;
  deps: RestDeps;
}

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

export interface TypeParams {
  type: string;
}
export interface InstanceParams extends TypeParams {
  id: string;
}
export interface VersionParams extends InstanceParams {
  vid: string;
}

/** preValidation: an unknown resource type is a 404 before anything else happens. */
export async function requireKnownType(request: FastifyRequest): Promise<void> {
  const { type } = request.params as TypeParams;
  if (!isStoredType(type)) {
    throw notFound(`Unknown resource type "${String(type).slice(0, 64)}": this server stores ${STORED_TYPES.join(', ')}`);
  }
}

/** preValidation: resources are sent as JSON (415 otherwise, e.g. for a form-encoded body). */
export async function requireJsonBody(request: FastifyRequest): Promise<void> {
  const mediaType = String(request.headers['content-type'] ?? '')
    .split(';')[0]
    .trim()
    .toLowerCase();
  if (mediaType !== 'application/fhir+json' && mediaType !== 'application/json') {
    throw new FhirError('FST_MEDIA_TYPE', 'Send the resource as application/fhir+json or application/json');
  }
}

/** The preHandler that authenticates a request (sets request.auth or answers 401). */
export function authenticator(ctx: AppContext): (request: FastifyRequest) => Promise<void> {
  return (request) => ctx.auth.authenticate(request);
}

/** The caller's access scope (after authentication). */
export async function callerScope(ctx: AppContext, request: FastifyRequest): Promise<AccessScope> {
  if (!request.auth) {
    throw unauthorized();
  }
  return resolveAccessScope(ctx, request.auth);
}

/** Answers a resource with its ETag and Last-Modified. */
export function sendResource(reply: FastifyReply, result: ReadResult, status = 200): FastifyReply {
  return reply
    .status(status)
    .type(FHIR_JSON)
    .header('etag', `W/"${result.version}"`)
    .header('last-modified', result.lastUpdated.toUTCString())
    .send(result.resource);
}

/** The single If-Match header value, if any. */
export function ifMatchHeader(request: FastifyRequest): string | undefined {
  const value = request.headers['if-match'];
  return Array.isArray(value) ? value[0] : value;
}
