/** JSON schemas of the /auth and /oauth2 routes: they check requests and document them at /docs. */

const id = { type: 'string', minLength: 1, maxLength: 128 } as const;
/** MedplumClient sends '' for an unset clientId; empty means absent. */
const optionalId = { type: 'string', maxLength: 128 } as const;

export const loginBodySchema = {
  type: 'object',
  required: ['email', 'password'],
  properties: {
    email: { type: 'string', format: 'email', maxLength: 320, description: 'The account email' },
    password: { type: 'string', minLength: 1, maxLength: 1024 },
    projectId: { ...optionalId, description: 'Sign in to this project (needed for project-scoped users)' },
    clientId: { ...optionalId, description: 'The OAuth ClientApplication signing in; implies its project' },
    resourceType: { type: 'string', enum: ['Patient', 'Practitioner', 'RelatedPerson'], description: 'Only memberships with this profile type' },
    scope: { type: 'string', maxLength: 1024, default: 'openid' },
    nonce: { type: 'string', maxLength: 256 },
    codeChallenge: { type: 'string', minLength: 1, maxLength: 256, description: 'PKCE code challenge' },
    codeChallengeMethod: { type: 'string', enum: ['S256', 'plain'] },
    remember: { type: 'boolean' },
  },
} as const;

export const profileBodySchema = {
  type: 'object',
  required: ['login', 'profile'],
  properties: {
    login: { ...id, description: 'The login id answered by /auth/login' },
    profile: { ...id, description: 'The id of the chosen ProjectMembership' },
  },
} as const;

const optionalString = { type: 'string', maxLength: 8192 } as const;

export const tokenBodySchema = {
  type: 'object',
  properties: {
    grant_type: { type: 'string', maxLength: 64, description: 'authorization_code, refresh_token or client_credentials' },
    code: optionalString,
    code_verifier: optionalString,
    refresh_token: optionalString,
    client_id: optionalString,
    client_secret: optionalString,
    redirect_uri: optionalString,
    scope: optionalString,
  },
} as const;

// --- MFA ---------------------------------------------------------------------------------------

const token = { type: 'string', minLength: 1, maxLength: 20, description: 'The 6-digit code the authenticator app shows' };
const method = { type: 'string', enum: ['totp'], description: 'Only TOTP (authenticator app) is offered' };

export const loginStepBody = {
  type: 'object',
  additionalProperties: false,
  required: ['login', 'token'],
  properties: { login: { type: 'string', minLength: 1, maxLength: 100 }, token, method },
};

export const signedInBody = {
  type: 'object',
  additionalProperties: false,
  required: ['token'],
  properties: { token, method },
};

export const loginResponse = {
  type: 'object',
  additionalProperties: true,
  properties: { login: { type: 'string' }, code: { type: 'string' }, memberships: { type: 'array', items: { type: 'object', additionalProperties: true } } },
};

export const mfaStatusResponse = {
  type: 'object',
  additionalProperties: false,
  properties: {
    enrolled: { type: 'boolean' },
    mfaRequired: { type: 'boolean', description: 'MFA is mandatory for this account: sign-ins always ask for a code, and it cannot be turned off' },
    enrolledMethods: { type: 'array', items: { type: 'string', enum: ['totp'] } },
    allowedMethods: { type: 'array', items: { type: 'string', enum: ['totp'] } },
    enrollUri: { type: 'string' },
    enrollQrCode: { type: 'string' },
  },
};

export const outcomeResponse = { type: 'object', additionalProperties: true, properties: { resourceType: { type: 'string' } } };

// --- Activation --------------------------------------------------------------------------------

export const setPasswordSchema = {
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
  response: { 200: outcomeResponse },
};

export const resetPasswordSchema = {
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
  response: { 200: outcomeResponse },
};

export const pageParams = {
  type: 'object',
  required: ['id', 'secret'],
  properties: { id: { type: 'string', maxLength: 200 }, secret: { type: 'string', maxLength: 200 } },
};

// --- Responses (documented for /docs; every property is passed through, nothing is filtered) ---------

/** GET /auth/me: the session details MedplumClient reads. */
export const meResponse = {
  type: 'object',
  additionalProperties: true,
  properties: { project: { type: 'object', additionalProperties: true }, membership: { type: 'object', additionalProperties: true } },
};

/** POST /oauth2/token: the token response (errors are `{ error, error_description }` with their own status). */
export const tokenResponse = {
  type: 'object',
  additionalProperties: true,
  properties: {
    token_type: { type: 'string' },
    expires_in: { type: 'integer' },
    scope: { type: 'string' },
    id_token: { type: 'string' },
    access_token: { type: 'string' },
    refresh_token: { type: 'string' },
    project: { type: 'object', additionalProperties: true },
    profile: { type: 'object', additionalProperties: true },
    patient: { type: 'string' },
  },
};

export const logoutResponse = { type: 'object', additionalProperties: true, properties: { ok: { type: 'boolean' } } };

export const jwksResponse = { type: 'object', additionalProperties: true, properties: { keys: { type: 'array', items: { type: 'object', additionalProperties: true } } } };
