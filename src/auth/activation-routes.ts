import type { User } from '@medplum/fhirtypes';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { activationProblemNamed, ACTIVATIONS, type ActivationDoc } from '../accounts/activation';
import { requestPasswordReset, RESET_ANSWER, setPasswordWithActivation, type ResetPasswordInput } from '../accounts/set-password';
import type { AppContext } from '../app-context';
import { KeyedLock } from '../db/keyed-lock';
import { badRequest, outcomeOk } from '../errors';
import { readStored } from '../fhir/repository';
import { acceptOnActivation } from '../invite/invite-acceptance';
import { pageParams, resetPasswordSchema, setPasswordSchema } from './route-schemas';
import { renderSetPasswordPage, SETPASSWORD_PAGE_CSP } from './setpassword-page';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** POST /auth/setpassword, POST /auth/resetpassword and the page GET /setpassword/:id/:secret. */
export const activationRoutes: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  const lock = new KeyedLock();
  const actionPath = `${new URL(ctx.config.baseUrl).pathname}auth/setpassword`;

  app.post<{ Body: { id: string; secret: string; password: string } }>('/auth/setpassword', { schema: setPasswordSchema }, async (request) => {
    const { id, secret, password } = request.body;
    // The invitation the link was for becomes accepted in the password's transaction.
    const deps = { database: ctx.database, clock: ctx.clock, lock, revokeLogin: ctx.auth.revokeLogin, listeners: ctx.listeners, onActivated: acceptOnActivation, audit: ctx.audit };
    await setPasswordWithActivation(deps, { id, secret, password });
    return outcomeOk('Your password is set: you can now sign in with it');
  });

  const resetDeps = { database: ctx.database, clock: ctx.clock, baseUrl: ctx.config.baseUrl, ttlMs: ctx.config.activationTtlMs, email: ctx.email, audit: ctx.audit };
  const resetRequests = new WeakMap<FastifyRequest, ResetPasswordInput>();
  app.addHook('onClose', () => ctx.auth.background.drain());

  /**
   * The answer goes out first and is the same for every valid email; the lookup and the mail are
   * done after it was sent (onResponse), so neither its content nor its timing tells whether an
   * account exists. Errors of that work are logged, never answered.
   */
  app.post<{ Body: { email: string; projectId?: string } }>(
    '/auth/resetpassword',
    {
      schema: resetPasswordSchema,
      onResponse: async (request) => {
        const input = resetRequests.get(request);
        if (input) {
          ctx.auth.background.run('password reset', `reset:${input.projectId ?? ''}:${input.email}`, () => requestPasswordReset(resetDeps, input));
        }
      },
    },
    async (request) => {
      const email = request.body.email.trim().toLowerCase();
      if (!EMAIL.test(email)) {
        throw badRequest('Enter a valid email address', 'email');
      }
      resetRequests.set(request, { email, projectId: request.body.projectId });
      return outcomeOk(RESET_ANSWER);
    },
  );

  app.get<{ Params: { id: string; secret: string } }>('/setpassword/:id/:secret', { schema: { hide: true, params: pageParams } }, async (request, reply) => {
    const { id, secret } = request.params;
    const activation = await ctx.database.db.collection<ActivationDoc>(ACTIVATIONS).findOne({ _id: id });
    // A withdrawn or expired invitation names its project (who to ask), and nothing else.
    const problem = await activationProblemNamed(ctx, activation, secret);
    let email: string | undefined;
    if (!problem && activation) {
      const user = await readStored<User>(ctx, 'User', activation.userId);
      email = user && !user.deleted ? user.resource.email : undefined;
    }
    reply
      .status(problem ? 400 : 200)
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('referrer-policy', 'no-referrer')
      .header('content-security-policy', SETPASSWORD_PAGE_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('x-frame-options', 'DENY');
    return renderSetPasswordPage({ id, secret, email, action: actionPath, problem: problem?.message });
  });
};
