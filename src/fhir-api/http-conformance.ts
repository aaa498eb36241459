import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FhirError, notFound } from '../errors';
import { isStoredType } from '../fhir/resource-types';
import { ID_PATTERN } from '../fhir/search/normalize';

/**
 * What the FHIR base answers beyond its routes (FHIR http.html):
 * - a method a URL does not support is 405 with an `Allow` header naming those it does;
 * - a response format other than JSON (`Accept`, `_format`) is 406; this server speaks JSON only;
 * - a client that asked for `application/json` gets that Content-Type, anyone else
 *   `application/fhir+json`.
 */

/** The route table of the FHIR base, for the `Allow` header: fed by an onRoute hook. */
export class FhirRouteTable {
  private readonly routes: { method: string; segments: string[] }[] = [];
  /** Each route pattern's parameter names (the patterns are the routes', a fixed few). */
  private readonly patterns = new Map<string, string[]>();

  add(method: string | string[], url: string): void {
    const segments = segmentsOf(url);
    this.patterns.set(url, segments.filter((part) => part.startsWith(':')).map((part) => part.slice(1)));
    for (const m of Array.isArray(method) ? method : [method]) {
      this.routes.push({ method: m.toUpperCase(), segments });
    }
  }

  /**
   * Whether the values the router found for a pattern's parameters (already percent-decoded)
   * pass their checks (see PARAM_CHECKS); the static segments matched, or the router would not
   * have chosen the pattern. A pattern this table does not know is checked against the path.
   */
  accepts(pattern: string, params: unknown, path: string): boolean {
    const names = this.patterns.get(pattern);
    if (!names) {
      return routeAccepts(pattern, path);
    }
    const values = (params ?? {}) as Record<string, unknown>;
    return names.every((name) => {
      const value = values[name];
      const check = PARAM_CHECKS[name];
      return typeof value === 'string' && value !== '' && (!check || check(value));
    });
  }

  /**
   * The methods some route would serve this path with, as the router chooses (a static segment
   * only matches itself, undecoded) and as the routes' own checks would let through (a `type`
   * segment must be a stored type, an `id` a valid id, an `operation` a `$name`).
   */
  allowedMethods(path: string): string[] {
    const segments = segmentsOf(path);
    const methods = new Set<string>();
    for (const route of this.routes) {
      if (matches(route.segments, segments)) {
        methods.add(route.method);
      }
    }
    if (methods.has('GET')) {
      methods.add('HEAD');
    }
    return [...methods].sort();
  }
}

function segmentsOf(url: string): string[] {
  return url.split('?')[0].split('/').filter(Boolean);
}

function decoded(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

const PARAM_CHECKS: Readonly<Record<string, (value: string) => boolean>> = {
  type: isStoredType,
  id: (value) => ID_PATTERN.test(value),
  vid: (value) => /^\d{1,9}$/.test(value),
  operation: (value) => /^\$[A-Za-z][A-Za-z0-9-]*$/.test(value),
};

function matches(pattern: string[], segments: string[]): boolean {
  if (pattern.length !== segments.length) {
    return false;
  }
  return pattern.every((part, i) => {
    if (!part.startsWith(':')) {
      return part === segments[i];
    }
    const value = decoded(segments[i]);
    const check = PARAM_CHECKS[part.slice(1)];
    return value !== undefined && value !== '' && (!check || check(value));
  });
}

/** Whether the path's values for a route's parameters pass their checks (see PARAM_CHECKS). */
export function routeAccepts(pattern: string, path: string): boolean {
  return matches(segmentsOf(pattern), segmentsOf(path));
}

/** The 405 for a path served by other methods only, or undefined when no method serves it. */
function methodNotAllowed(table: FhirRouteTable, request: FastifyRequest): FhirError | undefined {
  const path = request.url.split('?')[0];
  const allow = table.allowedMethods(path).filter((m) => m !== request.method);
  if (allow.length === 0) {
    return undefined;
  }
  const err = new FhirError('FST_NOT_ALLOWED', `${request.method} is not supported on ${path.slice(0, 200)}: this URL answers ${allow.join(', ')}`);
  err.headers = { allow: allow.join(', ') };
  return err;
}

/** The not-found handler of the FHIR base: 405 with Allow when the path exists for other methods. */
export function fhirNotFound(table: FhirRouteTable) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const path = request.url.split('?')[0];
    const refused = methodNotAllowed(table, request);
    if (refused) {
      throw refused;
    }
    const operation = segmentsOf(path).map(decoded).find((s) => s?.startsWith('$'));
    throw notFound(
      operation
        ? `This server has no operation ${operation.slice(0, 64)} at ${path.slice(0, 200)} for ${request.method}: the CapabilityStatement (GET /fhir/R4/metadata) lists the operations it supports`
        : `No route for ${request.method} ${path.slice(0, 200)}`,
    );
  };
}

/** The two JSON media types this server answers with. */
export type JsonMediaType = 'application/fhir+json' | 'application/json';

const FHIR_JSON_NAMES = new Set(['application/fhir+json', 'application/json+fhir']);
const FORMAT_VALUES: Readonly<Record<string, JsonMediaType>> = {
  json: 'application/fhir+json',
  'application/fhir+json': 'application/fhir+json',
  'application/json+fhir': 'application/fhir+json',
  'application/json': 'application/json',
};

interface MediaRange {
  type: string;
  q: number;
}

function parseAccept(header: string): MediaRange[] {
  return header
    .split(',')
    .map((part) => {
      const [type, ...params] = part.split(';').map((p) => p.trim().toLowerCase());
      const q = params.map((p) => /^q=([01](?:\.\d{0,3})?)$/.exec(p)).find(Boolean);
      return { type, q: q ? Number(q[1]) : 1 };
    })
    .filter((range) => range.type !== '');
}

/** The q of the most specific range matching a type (0 when none does), and whether it named the type. */
function qualityOf(ranges: MediaRange[], names: (name: string) => boolean): { q: number; exact: boolean } {
  const exact = ranges.filter((r) => names(r.type));
  if (exact.length > 0) {
    return { q: Math.max(...exact.map((r) => r.q)), exact: true };
  }
  const partial = ranges.filter((r) => r.type === 'application/*');
  if (partial.length > 0) {
    return { q: Math.max(...partial.map((r) => r.q)), exact: false };
  }
  const any = ranges.filter((r) => r.type === '*/*');
  return { q: any.length > 0 ? Math.max(...any.map((r) => r.q)) : 0, exact: false };
}

function firstValue(value: unknown): string | undefined {
  const list = Array.isArray(value) ? value : [value];
  return list.find((v): v is string => typeof v === 'string');
}

/**
 * The media type to answer a request with, from `_format` (which wins, as FHIR says) or `Accept`;
 * a 406 when the caller accepts neither JSON type.
 */
export function negotiateJson(request: FastifyRequest): JsonMediaType {
  const format = firstValue((request.query as Record<string, unknown> | undefined)?._format);
  if (format !== undefined) {
    // A `+` in a query string reads as a space.
    const value = format.trim().toLowerCase().replace(/ /g, '+');
    const type = FORMAT_VALUES[value];
    if (!type) {
      throw new FhirError('FST_NOT_ACCEPTABLE', `_format=${format.slice(0, 64)} is not supported: this server answers JSON only (_format=json or application/fhir+json, or leave it out)`, '_format');
    }
    return type;
  }
  const accept = firstValue(request.headers.accept)?.trim();
  if (!accept) {
    return 'application/fhir+json';
  }
  const ranges = parseAccept(accept);
  const fhir = qualityOf(ranges, (name) => FHIR_JSON_NAMES.has(name));
  const json = qualityOf(ranges, (name) => name === 'application/json');
  if (fhir.q === 0 && json.q === 0) {
    throw new FhirError('FST_NOT_ACCEPTABLE', `Accept: ${accept.slice(0, 100)} names no format this server answers: it speaks JSON only (application/fhir+json or application/json)`, 'Accept');
  }
  return json.q > fhir.q || (json.q === fhir.q && json.exact && !fhir.exact) ? 'application/json' : 'application/fhir+json';
}

/** Each request's format, negotiated once in onRequest and read again in onSend (a request decoration). */
interface Negotiated {
  fhirFormat: JsonMediaType | null;
}

const negotiated = (request: FastifyRequest): Negotiated => request as unknown as Negotiated;

/**
 * Registers the 405 handler, the 406 check and the Content-Type echo on the FHIR plugin. Call it
 * before the routes are registered: the route table learns them through onRoute.
 *
 * The negotiated format rides on the request (a decoration, so every request has the same shape),
 * not in a WeakMap keyed by the request: no ephemeron table to grow, rehash and sweep per request.
 */
export function registerHttpConformance(app: FastifyInstance): void {
  const table = new FhirRouteTable();
  app.decorateRequest('fhirFormat', null);
  app.addHook('onRoute', (route) => table.add(route.method, route.url));
  // Callback-style hooks (not async): one promise less per request for checks that never wait.
  app.addHook('onRequest', (request, _reply, done) => {
    try {
      negotiated(request).fhirFormat = negotiateJson(request);
      // A parametric route that matched only because a segment fills its parameter (POST
      // /metadata reaching create with type "metadata") is the 405 of the URL's real routes.
      const pattern = request.routeOptions.url;
      const refused = pattern && !table.accepts(pattern, request.params, request.url) ? methodNotAllowed(table, request) : undefined;
      done(refused);
    } catch (err) {
      done(err as Error);
    }
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    const type = reply.getHeader('content-type');
    if (typeof type === 'string' && type.startsWith('application/fhir+json') && wantedFormat(request) === 'application/json') {
      reply.header('content-type', `application/json${type.slice('application/fhir+json'.length)}`);
    }
    done(null, payload);
  });
  app.setNotFoundHandler(fhirNotFound(table));
}

/** The format onRequest negotiated; negotiated now if it did not run; FHIR JSON if it refused. */
function wantedFormat(request: FastifyRequest): JsonMediaType {
  const known = negotiated(request).fhirFormat;
  if (known) {
    return known;
  }
  try {
    return negotiateJson(request);
  } catch {
    // refused in onRequest already: that answer keeps the FHIR type
    return 'application/fhir+json';
  }
}
