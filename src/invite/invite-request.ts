import type { AccessPolicy, Patient, ProjectMembershipAccess, Reference } from '@medplum/fhirtypes';
import { passwordProblem } from '../accounts/passwords';
import { badRequest, FhirError, issue } from '../errors';

export type ProfileType = 'Practitioner' | 'Patient' | 'RelatedPerson';
export type UserScope = 'server' | 'project';

/** The partial ProjectMembership an invite applies (top-level shorthands already merged in). */
export interface MembershipTemplate {
  profile?: Reference;
  accessPolicy?: Reference<AccessPolicy>;
  access?: ProjectMembershipAccess[];
  admin?: boolean;
  externalId?: string;
  userName?: string;
}

/** One invite, validated and normalized; the same whichever form (Parameters or JSON) it came in. */
export interface InviteRequest {
  resourceType: ProfileType;
  firstName: string;
  lastName: string;
  /** Lower-cased. */
  email?: string;
  externalId?: string;
  /** Resolved: the given scope or the default for the profile type. */
  scope: UserScope;
  /** The caller named the scope (false: the default for the profile type was taken). */
  scopeGiven: boolean;
  /** Only for a project-scoped User (see normalizeInviteRequest); checked against the password policy. */
  password?: string;
  sendEmail: boolean;
  upsert: boolean;
  forceNewMembership: boolean;
  mfaRequired: boolean;
  patient?: Reference<Patient>;
  membership: MembershipTemplate;
  /** Where the policy fields came from, so errors name the field the caller sent. */
  sources: { accessPolicy: string; access: string };
}

/** The shape the JSON schema guarantees (see invite-schema.ts). */
interface InviteBody {
  resourceType: ProfileType;
  firstName: string;
  lastName: string;
  email?: string;
  externalId?: string;
  scope?: UserScope;
  password?: string;
  sendEmail?: boolean;
  upsert?: boolean;
  forceNewMembership?: boolean;
  mfaRequired?: boolean;
  admin?: boolean;
  accessPolicy?: Reference<AccessPolicy>;
  access?: ProjectMembershipAccess[];
  patient?: Reference<Patient>;
  membership?: MembershipTemplate & { resourceType?: 'ProjectMembership' };
}

/** The part of an ajv error object we read. */
export interface SchemaError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

/** `/membership/access/0/policy` → `membership.access[0].policy`. */
export function fieldPath(instancePath: string): string {
  return instancePath
    .split('/')
    .filter(Boolean)
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), '');
}

function describe(e: SchemaError): { text: string; where: string } {
  const path = fieldPath(e.instancePath);
  const join = (child: string): string => (path ? `${path}.${child}` : child);
  switch (e.keyword) {
    case 'additionalProperties': {
      const where = join(String(e.params.additionalProperty));
      return { where, text: `Unknown field "${where}"` };
    }
    case 'required': {
      const where = join(String(e.params.missingProperty));
      return { where, text: `${where} is required` };
    }
    case 'format':
      return { where: path, text: `${path} must be a valid ${String(e.params.format)} address` };
    case 'type':
      return { where: path || 'body', text: `${path || 'The body'} must be a ${String(e.params.type)}` };
    case 'enum':
      return { where: path, text: `${path} must be one of: ${(e.params.allowedValues as unknown[]).join(', ')}` };
    case 'minLength':
      return { where: path, text: `${path} must be at least ${String(e.params.limit)} characters long` };
    case 'maxLength':
      return { where: path, text: `${path} must be at most ${String(e.params.limit)} characters long` };
    case 'maxItems':
      return { where: path, text: `${path} may have at most ${String(e.params.limit)} entries` };
    case 'pattern':
      return path.endsWith('reference')
        ? { where: path, text: `${path} must look like "ResourceType/id"` }
        : { where: path, text: `${path} contains characters that are not allowed (control characters)` };
    default:
      return { where: path || 'body', text: `${path || 'The body'} ${e.message ?? 'is invalid'}` };
  }
}

/** ajv errors → one 400 with an issue per problem, each naming its field. */
export function schemaErrorsToFhirError(errors: readonly SchemaError[]): FhirError {
  const seen = new Set<string>();
  const issues = [];
  for (const e of errors) {
    const { text, where } = describe(e);
    if (!seen.has(text)) {
      seen.add(text);
      issues.push(issue('invalid', text, where));
    }
  }
  return new FhirError('FST_INVALID', issues[0]?.details?.text, undefined, issues);
}

function referenceType(ref: Reference | undefined): string | undefined {
  return ref?.reference?.split('/')[0];
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Takes a shorthand field from the top level or from membership; both given and different → 400. */
function merge<K extends 'accessPolicy' | 'access' | 'admin' | 'externalId'>(body: InviteBody, key: K): { value: MembershipTemplate[K]; source: string } {
  const top = body[key] as MembershipTemplate[K];
  const inner = body.membership?.[key];
  if (top !== undefined && inner !== undefined && !sameValue(top, inner)) {
    throw badRequest(`${key} and membership.${key} differ: give one of them`, `membership.${key}`);
  }
  return inner !== undefined ? { value: inner, source: `membership.${key}` } : { value: top, source: key };
}

/**
 * An administrator may choose the password only of a project-scoped User: a server-scoped account
 * can later join other projects, so only the owner of its email may set its password (through a
 * mailed link). The password must also pass the policy that set-password applies.
 */
function checkPassword(password: string | undefined, scope: UserScope): void {
  if (password === undefined) {
    return;
  }
  if (scope === 'server') {
    throw badRequest(
      'password can only be given for a project-scoped user (scope "project"): a server-scoped account sets its password through the activation link mailed to its owner',
      'password',
    );
  }
  const problem = passwordProblem(password);
  if (problem) {
    throw badRequest(problem, 'password');
  }
}

/** Cross-field rules after the schema passed; answers the normalized request. */
export function normalizeInviteRequest(input: unknown): InviteRequest {
  const body = input as InviteBody;
  const email = body.email?.toLowerCase();
  const externalId = merge(body, 'externalId');
  if (!email && !externalId.value) {
    throw badRequest('Give the email address or the externalId of the person to invite', ['email', 'externalId']);
  }
  if (body.upsert && body.forceNewMembership) {
    throw badRequest('upsert and forceNewMembership cannot both be true', 'forceNewMembership');
  }
  if (!email && body.scope === 'server') {
    throw badRequest('A server-scoped User needs an email address; an externalId-only invite is project-scoped', 'scope');
  }
  if (body.patient && body.resourceType !== 'RelatedPerson') {
    throw badRequest('patient is only used when inviting a RelatedPerson', 'patient');
  }
  if (body.patient && referenceType(body.patient) !== 'Patient') {
    throw badRequest('patient must reference a Patient', 'patient.reference');
  }
  const profile = body.membership?.profile;
  if (profile && referenceType(profile) !== body.resourceType) {
    throw badRequest(`membership.profile must reference a ${body.resourceType}`, 'membership.profile');
  }
  const accessPolicy = merge(body, 'accessPolicy');
  const access = merge(body, 'access');
  const admin = merge(body, 'admin');
  if (accessPolicy.value && referenceType(accessPolicy.value) !== 'AccessPolicy') {
    throw badRequest(`${accessPolicy.source} must reference an AccessPolicy`, accessPolicy.source);
  }
  access.value?.forEach((entry, i) => {
    if (referenceType(entry.policy) !== 'AccessPolicy') {
      throw badRequest(`${access.source}[${i}].policy must reference an AccessPolicy`, `${access.source}[${i}].policy`);
    }
  });
  const membership: MembershipTemplate = {};
  if (profile) {
    membership.profile = { reference: profile.reference };
  }
  if (accessPolicy.value) {
    membership.accessPolicy = accessPolicy.value;
  }
  if (access.value) {
    membership.access = access.value;
  }
  if (admin.value !== undefined) {
    membership.admin = admin.value;
  }
  if (externalId.value) {
    membership.externalId = externalId.value;
  }
  if (body.membership?.userName) {
    membership.userName = body.membership.userName;
  }
  const defaultScope: UserScope = !email || body.resourceType === 'Patient' ? 'project' : 'server';
  const scope = body.scope ?? defaultScope;
  checkPassword(body.password, scope);
  return {
    resourceType: body.resourceType,
    firstName: body.firstName,
    lastName: body.lastName,
    email,
    externalId: externalId.value,
    scope,
    scopeGiven: body.scope !== undefined,
    password: body.password,
    sendEmail: body.sendEmail ?? true,
    upsert: body.upsert ?? false,
    forceNewMembership: body.forceNewMembership ?? false,
    mfaRequired: body.mfaRequired ?? false,
    patient: body.patient ? { reference: body.patient.reference } : undefined,
    membership,
    sources: { accessPolicy: accessPolicy.source, access: access.source },
  };
}
