/**
 * The JSON schema of an invite in its plain-JSON form (what `MedplumClient.invite` sends), used
 * by Fastify (ajv) for shape: strings where strings belong, no unknown fields, email format.
 * The Parameters form is first read against the OperationDefinition into the same shape and then
 * checked with this schema too. Cross-field rules live in invite-request.ts.
 */

/** Printable text without control characters (no CR/LF in names that end up in mail). */
const TEXT = '^[^\\u0000-\\u001f\\u007f]*$';

const name = { type: 'string', minLength: 1, maxLength: 100, pattern: TEXT } as const;

export const referenceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['reference'],
  properties: {
    reference: { type: 'string', minLength: 3, maxLength: 200, pattern: '^[A-Z][A-Za-z]+/[A-Za-z0-9\\-.]{1,64}$' },
    display: { type: 'string', maxLength: 200 },
    type: { type: 'string', maxLength: 64 },
  },
} as const;

const accessSchema = {
  type: 'array',
  maxItems: 50,
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['policy'],
    properties: {
      policy: referenceSchema,
      parameter: {
        type: 'array',
        maxItems: 50,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['name'],
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 100 },
            valueString: { type: 'string', maxLength: 1000 },
            valueReference: referenceSchema,
          },
        },
      },
    },
  },
} as const;

export const membershipTemplateSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    resourceType: { type: 'string', enum: ['ProjectMembership'] },
    profile: referenceSchema,
    accessPolicy: referenceSchema,
    access: accessSchema,
    admin: { type: 'boolean' },
    externalId: { type: 'string', minLength: 1, maxLength: 256, pattern: TEXT },
    userName: { type: 'string', minLength: 1, maxLength: 256, pattern: TEXT },
  },
} as const;

export const inviteBodySchema = {
  type: 'object',
  description: 'An invitation: who (name, email and/or externalId), as what (profile type, scope, membership template) and how (email, MFA).',
  additionalProperties: false,
  required: ['resourceType', 'firstName', 'lastName'],
  properties: {
    resourceType: { type: 'string', enum: ['Practitioner', 'Patient', 'RelatedPerson'] },
    firstName: name,
    lastName: name,
    email: { type: 'string', format: 'email', maxLength: 254 },
    externalId: { type: 'string', minLength: 1, maxLength: 256, pattern: TEXT },
    scope: { type: 'string', enum: ['server', 'project'] },
    password: { type: 'string', minLength: 8, maxLength: 72, description: 'Only for a new project-scoped User: 8 characters to 72 bytes, not a common password' },
    sendEmail: { type: 'boolean' },
    upsert: { type: 'boolean' },
    forceNewMembership: { type: 'boolean' },
    mfaRequired: { type: 'boolean' },
    admin: { type: 'boolean' },
    accessPolicy: referenceSchema,
    access: accessSchema,
    patient: referenceSchema,
    membership: membershipTemplateSchema,
  },
} as const;

/** For the OpenAPI document of $invite: a Parameters resource or the plain-JSON form. */
export const operationBodyDocSchema = {
  type: 'object',
  description:
    'A FHIR Parameters resource whose parameters are those of OperationDefinition/Project-invite, or the same fields as a plain JSON object (see POST /admin/projects/{id}/invite).',
  additionalProperties: true,
} as const;

export const idempotencyHeaderSchema = {
  type: 'object',
  properties: {
    'idempotency-key': { type: 'string', description: 'Makes a retried invite answer the first result instead of a 409 (1 to 255 printable characters).' },
  },
} as const;
