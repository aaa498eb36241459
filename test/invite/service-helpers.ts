import type { FastifyInstance } from 'fastify';
import type { AuthContext } from '../../src/accounts/auth-context';
import { KeyedLock } from '../../src/db/keyed-lock';
import { operationAnswer } from '../../src/invite/invite-output';
import { normalizeInviteRequest } from '../../src/invite/invite-request';
import { runInvite, type InviteDeps, type InviteResult } from '../../src/invite/invite-service';
import { loadInviteTemplates } from '../../src/invite/invite-templates';

/** The invite service's dependencies taken from a test app (own lock). */
export function inviteDeps(app: FastifyInstance): InviteDeps {
  return { database: app.ctx.database, clock: app.ctx.clock, config: app.ctx.config, email: app.ctx.email, templates: loadInviteTemplates(), lock: new KeyedLock() };
}

/** Calls the service directly (no HTTP, no schema) and answers the full result. */
export async function inviteDirect(deps: InviteDeps, caller: AuthContext, projectId: string, body: Record<string, unknown>): Promise<InviteResult> {
  let captured: InviteResult | undefined;
  await runInvite(deps, {
    caller,
    projectId,
    request: normalizeInviteRequest(body),
    answer: (result) => {
      captured = result;
      return operationAnswer(result);
    },
  });
  return captured as InviteResult;
}
