import type { Parameters } from '@medplum/fhirtypes';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../app-context';
import { unauthorized } from '../../errors';
import type { StoredAnswer } from '../../invite/idempotency';
import { inviteForCaller, operationAnswer } from '../../invite/invite-output';
import { normalizeInviteRequest } from '../../invite/invite-request';
import { objectToParameters } from './parameters';
import type { OperationModule } from './registry';

/**
 * POST /fhir/R4/Project/{id}/$invite: the input (checked against the schema derived from
 * OperationDefinition/Project-invite) goes through the invite's cross-field rules and the invite
 * service; the answer is the Parameters the definition's output parameters describe.
 */
export const projectInvite: OperationModule = {
  id: 'Project-invite',
  create: (ctx: AppContext) => async ({ request, reply, definition, input }) => {
    const answer = await sendInvite(ctx, request as FastifyRequest<{ Params: { id: string } }>, reply, 'operation', normalizeInviteRequest(input), operationAnswer);
    return objectToParameters(definition, { ...(answer.body as Record<string, unknown>), activationUrl: answer.secret }) satisfies Parameters;
  },
};

/**
 * Runs an invite for the authenticated caller of a route and sets the reply's status (201 or
 * 200), content type and `Idempotency-Replayed` header; answers the (possibly replayed) answer.
 * The admin form (admin/admin-routes.ts) calls it too.
 */
export async function sendInvite(
  ctx: AppContext,
  request: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
  form: 'operation' | 'admin',
  inviteRequest: ReturnType<typeof normalizeInviteRequest>,
  answer: typeof operationAnswer,
): Promise<StoredAnswer> {
  if (!request.auth) {
    throw unauthorized();
  }
  const outcome = await inviteForCaller(ctx.invite, {
    caller: request.auth,
    projectId: request.params.id,
    idempotencyHeader: request.headers['idempotency-key'],
    form,
    request: inviteRequest,
    answer,
  });
  if (outcome.replayed) {
    reply.header('idempotent-replayed', 'true');
  }
  reply.status(outcome.answer.status).type('application/fhir+json');
  return outcome.answer;
}
