import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DatabaseUnavailableError } from '../db/availability';
import { isDatabaseUnavailable, isOutcomeUnknown } from '../db/unavailable';
import { ERROR_CODES, FhirError, issue, type ErrorCode } from '../errors';

/** Fastify's own error codes that are safe to show, mapped to ours. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'FST_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'FST_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'FST_INVALID',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'FST_INVALID',
  FST_ERR_CTP_INVALID_JSON_BODY: 'FST_INVALID',
  FST_ERR_VALIDATION: 'FST_INVALID',
  FST_ERR_NOT_FOUND: 'FST_NOT_FOUND',
  FST_ERR_BAD_URL: 'FST_INVALID',
  FST_ERR_MAX_PARAM_LENGTH: 'FST_INVALID',
  FST_ERR_CTP_INVALID_TYPE: 'FST_MEDIA_TYPE',
};

/** Seconds a client should wait before retrying after a database outage answer. */
const OUTAGE_RETRY_AFTER = '5';

const FRIENDLY: Partial<Record<string, string>> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'Unsupported content type: send application/fhir+json or application/json',
  FST_ERR_CTP_BODY_TOO_LARGE: 'The request body is larger than 1 MB',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'The request body is empty',
  FST_ERR_CTP_INVALID_JSON_BODY: 'The request body is not valid JSON',
  FST_ERR_BAD_URL: 'The URL is malformed',
  FST_ERR_MAX_PARAM_LENGTH: 'A path segment of the URL is too long (at most 200 characters)',
};

function fromValidation(err: FastifyError): FhirError {
  const issues = (err.validation ?? []).map((v) => {
    const path = [err.validationContext, ...v.instancePath.split('/').filter(Boolean)].filter(Boolean).join('.');
    const extra = v.params && 'additionalProperty' in v.params ? ` "${String(v.params.additionalProperty)}"` : '';
    const missing = v.params && 'missingProperty' in v.params ? ` "${String(v.params.missingProperty)}"` : '';
    const where = path + (missing ? `.${String(v.params.missingProperty)}` : '') + (extra ? `.${String(v.params.additionalProperty)}` : '');
    return issue('invalid', `${where || 'request'} ${v.message ?? 'is invalid'}${extra}`.trim(), where || undefined);
  });
  return new FhirError('FST_INVALID', issues[0]?.details?.text, undefined, issues);
}

/** Turns any error into a FhirError whose message may be shown to the caller. */
export function toFhirError(err: unknown): FhirError {
  if (err instanceof FhirError) {
    return err;
  }
  const fe = err as FastifyError;
  if (fe && Array.isArray(fe.validation)) {
    return fromValidation(fe);
  }
  if (isDatabaseUnavailable(err)) {
    const message = isOutcomeUnknown(err)
      ? 'The database connection was lost while this request was being carried out, so a change it makes may or may not have been saved: read it back before sending it again'
      : err instanceof DatabaseUnavailableError && err.reason === 'busy'
        ? 'The database is too busy to take this write right now; try again shortly'
        : 'The database is unreachable right now; try again shortly';
    const down = new FhirError('FST_UNAVAILABLE', message);
    down.headers = { 'retry-after': OUTAGE_RETRY_AFTER };
    return down;
  }
  const mapped = fe?.code ? FASTIFY_CODES[fe.code] : undefined;
  if (mapped) {
    return new FhirError(mapped, FRIENDLY[fe.code] ?? ERROR_CODES[mapped].message);
  }
  const status = typeof fe?.statusCode === 'number' ? fe.statusCode : 500;
  if (status === 429) {
    const out = new FhirError('FST_RATE_LIMIT');
    return out;
  }
  const byStatus = (Object.keys(ERROR_CODES) as ErrorCode[]).find((k) => ERROR_CODES[k].status === status && status < 500);
  return new FhirError(byStatus ?? 'FST_INTERNAL');
}

/** The single error handler: every error becomes an OperationOutcome; internals are never echoed. */
export function errorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const fhirError = toFhirError(err);
  if (fhirError.statusCode >= 500) {
    request.log.error({ err }, 'request failed');
  } else {
    request.log.info({ status: fhirError.statusCode, code: fhirError.code }, fhirError.message);
  }
  for (const [name, value] of Object.entries(fhirError.headers ?? {})) {
    reply.header(name, value);
  }
  const retryAfter = reply.getHeader('retry-after');
  if (fhirError.statusCode === 429 && !retryAfter) {
    reply.header('retry-after', '60');
  }
  reply.status(fhirError.statusCode).type('application/fhir+json').send(fhirError.outcome);
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): void {
  const err = new FhirError('FST_NOT_FOUND', `No route for ${request.method} ${request.url.split('?')[0]}`);
  reply.status(404).type('application/fhir+json').send(err.outcome);
}
