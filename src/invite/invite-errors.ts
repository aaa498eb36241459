import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { FhirError, issue, type ErrorCode } from '../errors';

/**
 * A refusal the invite decided on from what it read (already a member, profile of another
 * project, ...). Unlike a unique-index clash, running the invite again cannot change the answer,
 * so the retry loop answers it at once.
 */
export class InviteRefusal extends FhirError {
  constructor(code: ErrorCode, message: string, expression?: string | string[], issues?: OperationOutcomeIssue[]) {
    super(code, message, expression, issues);
  }
}

export const refuseBadRequest = (message: string, expression?: string | string[]): InviteRefusal => new InviteRefusal('FST_INVALID', message, expression);
export const refuseConflict = (message: string, expression?: string | string[]): InviteRefusal => new InviteRefusal('FST_CONFLICT', message, expression);
export const refuseForbidden = (message: string): InviteRefusal => new InviteRefusal('FST_FORBIDDEN', message);
export const refuseNotFound = (message: string): InviteRefusal => new InviteRefusal('FST_NOT_FOUND', message);

/** 412 with the FHIR issue code for an ambiguous match. */
export function refuseMultipleMatches(message: string, expression: string): InviteRefusal {
  return new InviteRefusal('FST_PRECONDITION', message, expression, [issue('multiple-matches', message, expression)]);
}
