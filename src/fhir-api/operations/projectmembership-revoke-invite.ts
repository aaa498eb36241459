import type { FastifyRequest } from 'fastify';
import type { AppContext } from '../../app-context';
import { unauthorized } from '../../errors';
import { revokeInvite } from '../../invite/revoke-invite';
import type { OperationModule } from './registry';

/**
 * POST /fhir/R4/ProjectMembership/{id}/$revoke-invite (OperationDefinition
 * ProjectMembership-revoke-invite): no input; the answer is the membership itself, revoked and
 * inactive (the definition's single output, `return`, of type ProjectMembership, as FHIR answers
 * such an operation). This instance forgets its cached sessions and scopes at once (the
 * sessions through the membership were ended in the transaction).
 */
export const projectMembershipRevokeInvite: OperationModule = {
  id: 'ProjectMembership-revoke-invite',
  create: (ctx: AppContext) => async ({ request, reply }) => {
    if (!request.auth) {
      throw unauthorized();
    }
    const { id } = (request as FastifyRequest<{ Params: { id: string } }>).params;
    const membership = await revokeInvite(ctx.invite, { caller: request.auth, membershipId: id });
    ctx.auth.forgetSessions();
    reply.status(200).type('application/fhir+json');
    return membership;
  },
};
