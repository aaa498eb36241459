import type { FastifyRequest } from 'fastify';
import { actorOf } from '../accounts/auth-context';
import type { AuditRecord } from '../audit/audit-event';

const METHOD_INTERACTIONS: Readonly<Record<string, string>> = { GET: 'read', HEAD: 'read', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

/**
 * The audit record of a 403 on the FHIR API: who (when signed in), what was asked (method and
 * path without the query, which may carry search values) and why, in the caller's project.
 */
export function accessDeniedRecord(request: FastifyRequest, reason: string): AuditRecord {
  const path = request.url.split('?')[0].slice(0, 200);
  const auth = request.auth;
  const [, , , type, id] = path.split('/');
  const entities = type && id && /^[A-Za-z0-9\-.]{1,64}$/.test(id) && /^[A-Z][A-Za-z]{1,63}$/.test(type) && !id.startsWith('$') ? [{ what: { reference: `${type}/${id}` } }] : [];
  return {
    kind: 'access-denied',
    outcome: '4',
    outcomeDesc: `${request.method} ${path}: ${reason}`.slice(0, 300),
    interaction: path.includes('$') ? 'operation' : request.method === 'GET' && !id ? 'search-type' : (METHOD_INTERACTIONS[request.method] ?? 'operation'),
    address: request.ip,
    ...(auth ? { actor: actorOf(auth), project: auth.projectId } : {}),
    entities,
  };
}
