import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { unauthenticated, type AuthContext } from '../accounts/auth-context';
import { introspect, userInfo } from '../accounts/token-checks';
import { SIGNING_ALG } from '../accounts/tokens';
import type { AppContext } from '../app-context';
import { FhirError } from '../errors';

/**
 * Discovery and token checks for other servers: OpenID Connect discovery, SMART App Launch 2.0
 * discovery (the capabilities this server has, no more), userinfo and RFC 7662 introspection.
 *
 * There is no browser redirect endpoint (`authorization_endpoint`): a code is obtained through
 * `POST /auth/login` with PKCE (Medplum's flow) and exchanged at the token endpoint, so neither
 * document names one, and SMART's launch capabilities are not claimed.
 */

const GRANTS = ['authorization_code', 'refresh_token', 'client_credentials'];
const CLIENT_AUTH = ['client_secret_basic', 'client_secret_post'];

function endpoints(base: string): Record<string, string> {
  return {
    issuer: base,
    jwks_uri: `${base}.well-known/jwks.json`,
    token_endpoint: `${base}oauth2/token`,
    userinfo_endpoint: `${base}oauth2/userinfo`,
    introspection_endpoint: `${base}oauth2/introspect`,
  };
}

export function openidConfiguration(base: string): Record<string, unknown> {
  return {
    ...endpoints(base),
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [SIGNING_ALG],
    grant_types_supported: GRANTS,
    token_endpoint_auth_methods_supported: [...CLIENT_AUTH, 'none'],
    introspection_endpoint_auth_methods_supported: CLIENT_AUTH,
    code_challenge_methods_supported: ['S256', 'plain'],
    scopes_supported: ['openid'],
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'name', 'given_name', 'family_name', 'email', 'email_verified', 'fhirUser'],
  };
}

/**
 * SMART App Launch 2.0 (`.well-known/smart-configuration`). Capabilities: public clients with
 * PKCE and confidential clients with a secret, OpenID Connect (id_token with fhirUser, userinfo),
 * refresh tokens. Only S256 is listed (SMART forbids advertising `plain`, which the sign-in still
 * accepts for Medplum clients).
 */
export function smartConfiguration(base: string): Record<string, unknown> {
  return {
    ...endpoints(base),
    grant_types_supported: GRANTS,
    token_endpoint_auth_methods_supported: CLIENT_AUTH,
    scopes_supported: ['openid', 'fhirUser'],
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    capabilities: ['client-public', 'client-confidential-symmetric', 'sso-openid-connect', 'permission-offline'],
  };
}

const CLIENT_CHALLENGE = 'Basic realm="fhir-invite-server"';

function clientRequired(message: string): FhirError {
  const err = unauthenticated(message);
  err.headers = { 'www-authenticate': CLIENT_CHALLENGE };
  return err;
}

/** The client of an introspection request: HTTP Basic, or client_id and client_secret in the form. */
async function authenticateClient(ctx: AppContext, request: FastifyRequest<{ Body: Record<string, unknown> | undefined }>): Promise<AuthContext> {
  const header = request.headers.authorization;
  const body = request.body ?? {};
  let authorization: string;
  if (header) {
    if (!/^basic\s/i.test(header)) {
      throw clientRequired('Introspection is for clients: authenticate with HTTP Basic (client id and secret)');
    }
    authorization = header;
  } else if (typeof body.client_id === 'string' && typeof body.client_secret === 'string' && body.client_id && body.client_secret) {
    authorization = `Basic ${Buffer.from(`${body.client_id}:${body.client_secret}`).toString('base64')}`;
  } else {
    throw clientRequired('Introspection is for clients: authenticate with HTTP Basic or client_id and client_secret');
  }
  // The same check (and cache) as every Basic-authenticated request.
  const probe = { headers: { authorization } } as FastifyRequest;
  try {
    await ctx.auth.authenticate(probe);
  } catch (err) {
    if (err instanceof FhirError && err.statusCode === 401) {
      throw clientRequired('The client id or secret is not valid');
    }
    throw err;
  }
  return probe.auth as AuthContext;
}

const looseObject = { type: 'object', additionalProperties: true } as const;

export const discoveryRoutes: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  const base = ctx.config.baseUrl;
  app.get('/.well-known/openid-configuration', { schema: { tags: ['auth'], summary: 'OpenID Connect discovery', response: { 200: looseObject } } }, async () => openidConfiguration(base));
  app.get('/.well-known/smart-configuration', { schema: { tags: ['auth'], summary: 'SMART App Launch 2.0 discovery', response: { 200: looseObject } } }, async () => smartConfiguration(base));

  const bearerOnly = async (request: FastifyRequest): Promise<void> => {
    if (!/^bearer\s/i.test(request.headers.authorization ?? '')) {
      throw unauthenticated('userinfo needs Authorization: Bearer <access token>');
    }
    await ctx.auth.authenticate(request);
  };
  const userinfoOptions = {
    schema: { tags: ['auth'], summary: 'OpenID Connect userinfo of the bearer token', security: [{ bearer: [] }], response: { 200: looseObject } },
    preHandler: bearerOnly,
  };
  const answerUserinfo = async (request: FastifyRequest) => userInfo(ctx, request.auth as AuthContext);
  app.get('/oauth2/userinfo', userinfoOptions, answerUserinfo);
  app.post('/oauth2/userinfo', userinfoOptions, answerUserinfo);

  app.post<{ Body: Record<string, unknown> | undefined }>(
    '/oauth2/introspect',
    {
      schema: {
        tags: ['auth'],
        summary: 'RFC 7662 token introspection, for clients (HTTP Basic or client_secret_post)',
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        body: { type: 'object', properties: { token: { type: 'string' }, token_type_hint: { type: 'string', maxLength: 64 }, client_id: { type: 'string', maxLength: 256 }, client_secret: { type: 'string', maxLength: 512 } } },
        response: { 200: looseObject },
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
      const client = await authenticateClient(ctx, request);
      return introspect(ctx, client, request.body?.token);
    },
  );
};
