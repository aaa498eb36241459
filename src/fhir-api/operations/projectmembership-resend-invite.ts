import type { Parameters } from '@medplum/fhirtypes';
import type { FastifyRequest } from 'fastify';
import type { AppContext } from '../../app-context';
import { unauthorized } from '../../errors';
import { fingerprint, idempotencyKey } from '../../invite/idempotency';
import { resendInvite } from '../../invite/resend-invite';
import { objectToParameters } from './parameters';
import type { OperationModule } from './registry';

/**
 * POST /fhir/R4/ProjectMembership/{id}/$resend-invite (OperationDefinition
 * ProjectMembership-resend-invite): the input is `sendEmail` (default true); the answer the
 * membership, `emailStatus` and, when the link was handed back, `activationUrl`. An
 * Idempotency-Key (scoped to the caller, the membership and the input) answers a retry with the
 * first result (`idempotent-replayed: true`), the link included, and sends nothing more.
 */
export const projectMembershipResendInvite: OperationModule = {
  id: 'ProjectMembership-resend-invite',
  create: (ctx: AppContext) => async ({ request, reply, definition, input }) => {
    if (!request.auth) {
      throw unauthorized();
    }
    const { id } = (request as FastifyRequest<{ Params: { id: string } }>).params;
    const sendEmail = input.sendEmail !== false;
    const key = idempotencyKey(request.headers['idempotency-key'], `${request.auth.userType}/${request.auth.userId}`);
    const idempotency = key ? { key, fingerprint: fingerprint(key, { form: 'resend-invite', membershipId: id, sendEmail }) } : undefined;
    const outcome = await resendInvite(ctx.invite, { caller: request.auth, membershipId: id, sendEmail, idempotency });
    if (outcome.replayed) {
      reply.header('idempotent-replayed', 'true');
    }
    reply.status(outcome.answer.status).type('application/fhir+json');
    return objectToParameters(definition, { ...(outcome.answer.body as Record<string, unknown>), activationUrl: outcome.answer.secret }) satisfies Parameters;
  },
};
