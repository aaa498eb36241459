import type { User } from '@medplum/fhirtypes';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../app-context';
import { KeyedLock } from '../db/keyed-lock';
import { badRequest, outcomeOk } from '../errors';
import { readStored } from '../fhir/repository';
import { activationProblem } from './activation-check';
import { ACTIVATIONS, type ActivationDoc } from './activation-store';
import { renderSetPasswordPage, SETPASSWORD_PAGE_CSP } from './pages/setpassword-page';
import { requestPasswordReset, RESET_ANSWER, type ResetPasswordInput } from './reset-password';
import { setPasswordWithActivation } from './setpassword';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

const outcomeSchema = { type: 'object', additionalProperties: true, properties: { resourceType: { type: 'string' } } };

const setPasswordSchema = {
  tags: ['auth'],
  summary: 'Set a password through an activation (invite or reset) link',
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['id', 'secret', 'password'],
    properties: {
      id: { type: 'string', minLength: 1, maxLength: 200, description: 'The activation request id (first part of the link)' },
      secret: { type: 'string', minLength: 1, maxLength: 200, description: 'The activation secret (second part of the link)' },
      password: { type: 'string', minLength: 1, maxLength: 1000, description: '8 characters to 72 bytes, not a common password' },
    },
  },
  response: { 200: outcomeSchema },
};

const resetPasswordSchema = {
  tags: ['auth'],
  summary: 'Email a link to set a new password (answers the same whether or not the account exists)',
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['email'],
    properties: {
      email: { type: 'string', minLength: 3, maxLength: 320 },
      projectId: { type: 'string', minLength: 1, maxLength: 100, description: 'For a project-scoped account: its project' },
      recaptchaToken: { type: 'string', maxLength: 4000, description: 'Accepted for compatibility; ignored' },
    },
  },
  response: { 200: outcomeSchema },
};

const pageParams = {
  type: 'object',
  required: ['id', 'secret'],
  properties: { id: { type: 'string', maxLength: 200 }, secret: { type: 'string', maxLength: 200 } },
};

/** POST /auth/setpassword, POST /auth/resetpassword and the page GET /setpassword/:id/:secret. */
export async function registerActivationRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const lock = new KeyedLock();
  const actionPath = `${new URL(ctx.config.baseUrl).pathname}auth/setpassword`;

  app.post<{ Body: { id: string; secret: string; password: string } }>('/auth/setpassword', { schema: setPasswordSchema }, async (request) => {
    const { id, secret, password } = request.body;
    await setPasswordWithActivation({ database: ctx.database, clock: ctx.clock, lock, revokeLogin: ctx.auth.revokeLogin }, { id, secret, password });
    return outcomeOk('Your password is set: you can now sign in with it');
  });

  const resetDeps = { database: ctx.database, clock: ctx.clock, baseUrl: ctx.config.baseUrl, ttlMs: ctx.config.activationTtlMs, email: ctx.email };
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
    const problem = activationProblem(activation, secret, ctx.clock.now());
    let email: string | undefined;
    if (!problem && activation) {
      const user = await readStored<User>({ database: ctx.database, clock: ctx.clock }, 'User', activation.userId);
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
}
