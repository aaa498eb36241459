import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { AppContext } from '../app-context';
import { continueLogin } from '../accounts/login';
import { disableSignedIn, enrollSignedIn, loginEnroll, loginVerify, mfaStatus, type MfaCaller, type MfaServiceDeps } from '../accounts/mfa';
import { KeyedLock } from '../db/keyed-lock';
import { outcomeOk, unauthorized } from '../errors';
import { loginResponse, loginStepBody, mfaStatusResponse, outcomeResponse, signedInBody } from './route-schemas';

function caller(request: FastifyRequest): MfaCaller {
  const auth = request.auth;
  if (!auth) {
    throw unauthorized();
  }
  return { userId: auth.userId, userType: auth.userType, loginId: auth.loginId };
}

/** The MFA endpoints of the sign-in (login-enroll, verify) and of signed-in users (status, enroll, disable). */
export const mfaRoutes: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  const deps: MfaServiceDeps = { database: ctx.database, clock: ctx.clock, lock: new KeyedLock(), log: ctx.log, listeners: ctx.listeners, audit: ctx.audit };
  const signedIn = { preHandler: ctx.auth.authenticateHook, schema: { tags: ['auth'], security: [{ bearer: [] }] } };

  app.post<{ Body: { login: string; token: string } }>(
    '/auth/mfa/login-enroll',
    { schema: { tags: ['auth'], summary: 'Confirm TOTP enrollment during sign-in; answers { login, code }', body: loginStepBody, response: { 200: loginResponse } } },
    async (request) => {
      await loginEnroll(deps, request.body.login, request.body.token);
      return continueLogin(ctx, request.body.login);
    },
  );

  app.post<{ Body: { login: string; token: string } }>(
    '/auth/mfa/verify',
    { schema: { tags: ['auth'], summary: 'Enter the TOTP code of a sign-in; answers { login, code }', body: loginStepBody, response: { 200: loginResponse } } },
    async (request) => {
      await loginVerify(deps, request.body.login, request.body.token);
      return continueLogin(ctx, request.body.login);
    },
  );

  app.get(
    '/auth/mfa/status',
    { ...signedIn, schema: { ...signedIn.schema, summary: 'Whether MFA is set up; if not, the QR code to enroll', response: { 200: mfaStatusResponse } } },
    async (request) => mfaStatus(deps, caller(request)),
  );

  app.post<{ Body: { token: string } }>(
    '/auth/mfa/enroll',
    { ...signedIn, schema: { ...signedIn.schema, summary: 'Confirm TOTP enrollment with a code', body: signedInBody, response: { 200: outcomeResponse } } },
    async (request) => {
      await enrollSignedIn(deps, caller(request), request.body.token);
      return outcomeOk('MFA is set up: sign-ins will ask for a code from your authenticator app');
    },
  );

  app.post<{ Body: { token: string } }>(
    '/auth/mfa/disable',
    { ...signedIn, schema: { ...signedIn.schema, summary: 'Turn MFA off (needs a valid code; refused when MFA is required)', body: signedInBody, response: { 200: outcomeResponse } } },
    async (request) => {
      await disableSignedIn(deps, caller(request), request.body.token);
      return outcomeOk('MFA is turned off for this account');
    },
  );
};
