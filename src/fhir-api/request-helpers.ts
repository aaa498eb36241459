import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AccessScope } from '../access/access-scope';
import { resolveAccessScope } from '../access/resolve';
import type { AppContext } from '../app-context';
import { badRequest, FhirError, notFound, unauthorized } from '../errors';
import { isStoredType, STORED_TYPES } from '../fhir/resource-types';
import { ID_PATTERN } from '../fhir/search/normalize';
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

/**
 * preValidation: an unknown resource type is a 404 before anything else happens; so is an id
 * segment that is an operation this server does not have (`GET Patient/$meta`), and a malformed
 * id or version is a 400 that says what an id looks like.
 */
export async function requireKnownType(request: FastifyRequest): Promise<void> {
  const { type, id, vid } = request.params as Partial<VersionParams>;
  if (!isStoredType(String(type))) {
    throw notFound(`Unknown resource type "${String(type).slice(0, 64)}": this server stores ${STORED_TYPES.join(', ')}`);
  }
  if (typeof id === 'string' && !ID_PATTERN.test(id)) {
    if (id.startsWith('$')) {
      throw notFound(`${type} has no operation ${id.slice(0, 64)} for ${request.method}: the CapabilityStatement (GET /fhir/R4/metadata) lists the operations this server supports`);
    }
    throw badRequest(`"${id.slice(0, 64)}" is not a valid resource id: 1 to 64 letters, digits, '-' or '.'`, 'id');
  }
  if (typeof vid === 'string' && !/^[0-9]{1,9}$/.test(vid)) {
    throw badRequest(`"${vid.slice(0, 64)}" is not a valid version id: a whole number`, 'vid');
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
