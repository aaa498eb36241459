import type { OperationDefinition, Parameters } from '@medplum/fhirtypes';
import { objectToParameters } from '../fhir/operation-registry';
import type { StoredAnswer } from './idempotency';
import type { InviteResult } from './invite-service';

/** 201 when a membership was created, 200 when an existing one was updated (upsert). */
const statusOf = (result: InviteResult): number => (result.membershipCreated ? 201 : 200);

/**
 * The $invite answer, kept as the named output values; the activation link (a secret) is kept
 * apart so that it is never stored in the clear (see idempotency.ts).
 */
export function operationAnswer(result: InviteResult): StoredAnswer {
  const values = {
    membership: result.membership,
    profile: result.profile,
    user: { reference: `User/${result.user.id}`, display: result.user.email ?? `${result.user.firstName} ${result.user.lastName}` },
    emailStatus: result.emailStatus,
  };
  return { status: statusOf(result), body: values, secret: result.activationUrl };
}

/** The `Parameters` the OperationDefinition describes, from a (possibly replayed) answer. */
export function operationReply(definition: OperationDefinition, answer: StoredAnswer): Parameters {
  return objectToParameters(definition, { ...(answer.body as Record<string, unknown>), activationUrl: answer.secret });
}

/** POST /admin/projects/{id}/invite answers the ProjectMembership itself. */
export function adminAnswer(result: InviteResult): StoredAnswer {
  return { status: statusOf(result), body: result.membership };
}
