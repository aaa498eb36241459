/** JSON schemas of the auth request bodies (validation, and the OpenAPI document at /docs). */

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

export const createClientBodySchema = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: {
    resourceType: { type: 'string', enum: ['ClientApplication'], description: 'Optional, as MedplumClient and the Medplum app send it' },
    name: { type: 'string', minLength: 1, maxLength: 256 },
    description: { type: 'string', maxLength: 4096 },
    redirectUri: { type: 'string', maxLength: 2048 },
    accessPolicy: {
      type: 'object',
      required: ['reference'],
      properties: { reference: { type: 'string', pattern: '^AccessPolicy/[A-Za-z0-9\\-.]{1,64}$' }, display: { type: 'string' } },
    },
  },
} as const;

export const projectIdParamsSchema = {
  type: 'object',
  required: ['projectId'],
  properties: { projectId: { type: 'string', pattern: '^[A-Za-z0-9\\-.]{1,64}$' } },
} as const;
