import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

/**
 * The one table of error codes. Every refusal the server makes is one of these; the error
 * handler turns it into an OperationOutcome with the listed HTTP status and issue code.
 */
export const ERROR_CODES = {
  FST_INVALID: { status: 400, issue: 'invalid', message: 'The request is invalid' },
  FST_STRUCTURE: { status: 400, issue: 'structure', message: 'The resource is not valid FHIR' },
  FST_UNAUTHENTICATED: { status: 401, issue: 'login', message: 'Sign in required: send a valid bearer token' },
  FST_FORBIDDEN: { status: 403, issue: 'forbidden', message: 'You are not allowed to do this' },
  FST_NOT_FOUND: { status: 404, issue: 'not-found', message: 'Not found' },
  FST_NOT_ALLOWED: { status: 405, issue: 'not-supported', message: 'Method not allowed' },
  FST_CONFLICT: { status: 409, issue: 'conflict', message: 'The request conflicts with the current state' },
  FST_GONE: { status: 410, issue: 'deleted', message: 'The resource was deleted' },
  FST_PRECONDITION: { status: 412, issue: 'conflict', message: 'The resource version does not match If-Match' },
  FST_TOO_LARGE: { status: 413, issue: 'too-costly', message: 'The request body is larger than the limit' },
  FST_MEDIA_TYPE: { status: 415, issue: 'not-supported', message: 'Unsupported content type' },
  FST_UNPROCESSABLE: { status: 422, issue: 'processing', message: 'The request could not be processed' },
  FST_RATE_LIMIT: { status: 429, issue: 'throttled', message: 'Too many requests, try again later' },
  FST_NOT_ACCEPTABLE: { status: 406, issue: 'not-supported', message: 'This server answers JSON only (application/fhir+json or application/json)' },
  FST_INTERNAL: { status: 500, issue: 'exception', message: 'Internal server error' },
  FST_UNAVAILABLE: { status: 503, issue: 'transient', message: 'The service is temporarily unavailable' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
type IssueCode = OperationOutcomeIssue['code'];

/** An error that the error handler may show as it is: its message is meant for the caller. */
export class FhirError extends Error {
  readonly statusCode: number;
  readonly issues: OperationOutcomeIssue[];
  /** Extra response headers, e.g. Retry-After. */
  headers?: Record<string, string>;

  constructor(readonly code: ErrorCode, message?: string, expression?: string | string[], issues?: OperationOutcomeIssue[]) {
    const entry = ERROR_CODES[code];
    super(message ?? entry.message);
    this.statusCode = entry.status;
    this.issues = issues ?? [issue(entry.issue as IssueCode, this.message, expression)];
  }

  get outcome(): OperationOutcome {
    return { resourceType: 'OperationOutcome', issue: this.issues };
  }
}

export function issue(code: IssueCode, text: string, expression?: string | string[]): OperationOutcomeIssue {
  const result: OperationOutcomeIssue = { severity: 'error', code, details: { text }, diagnostics: text };
  if (expression !== undefined) {
    result.expression = Array.isArray(expression) ? expression : [expression];
  }
  return result;
}

export const badRequest = (message: string, expression?: string | string[]): FhirError => new FhirError('FST_INVALID', message, expression);
export const unauthorized = (message?: string): FhirError => new FhirError('FST_UNAUTHENTICATED', message);
export const forbidden = (message?: string): FhirError => new FhirError('FST_FORBIDDEN', message);
export const notFound = (message?: string): FhirError => new FhirError('FST_NOT_FOUND', message);
export const conflict = (message: string, expression?: string | string[]): FhirError => new FhirError('FST_CONFLICT', message, expression);
export const gone = (message?: string): FhirError => new FhirError('FST_GONE', message);
export const preconditionFailed = (message?: string, expression?: string): FhirError => new FhirError('FST_PRECONDITION', message, expression);
export function tooManyRequests(retryAfterSeconds: number, message?: string): FhirError {
  const err = new FhirError('FST_RATE_LIMIT', message);
  err.headers = { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) };
  return err;
}
/** Several problems at once (e.g. validation), each with its own expression. */
export const invalidIssues = (issues: OperationOutcomeIssue[]): FhirError => new FhirError('FST_STRUCTURE', issues[0]?.details?.text, undefined, issues);

export function outcomeOk(message: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', details: { text: message } }] };
}
