import type { AccessPolicy, Patient, ProjectMembershipAccess, Reference } from '@medplum/fhirtypes';
import { passwordProblem } from '../accounts/passwords';
import { badRequest } from '../errors';

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

/**
 * The input of an invite, as the plain-JSON form sends it (the Parameters form is read into the
 * same shape). Its source is OperationDefinition/Project-invite (fhir-profiles/): the JSON schema
 * that checks it is derived from the definition at start (fhir-api/operations/input-schema.ts),
 * and this type is written by hand once, kept equal to the definition's input parameters by
 * INVITE_INPUT_FIELDS (checked against this type at compile time, and against the definition by
 * test/invite/invite-input-shape.test.ts).
 */
export interface InviteInput {
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

/** Every field of InviteInput: the input parameters of OperationDefinition/Project-invite. */
export const INVITE_INPUT_FIELDS = [
  'resourceType',
  'firstName',
  'lastName',
  'email',
  'externalId',
  'scope',
  'password',
  'sendEmail',
  'upsert',
  'forceNewMembership',
  'mfaRequired',
  'admin',
  'accessPolicy',
  'access',
  'patient',
  'membership',
] as const satisfies readonly (keyof InviteInput)[];

/** Every field of MembershipTemplate: the parts of the definition's `membership` parameter. */
export const MEMBERSHIP_TEMPLATE_FIELDS = ['profile', 'accessPolicy', 'access', 'admin', 'externalId', 'userName'] as const satisfies readonly (keyof MembershipTemplate)[];

// Compile-time check that the lists above name every field of the types (the `satisfies` clauses
// check that they name no other).
type Missing<T, Listed> = Exclude<keyof T, Listed>;
const everyInputField: Missing<InviteInput, (typeof INVITE_INPUT_FIELDS)[number]> extends never ? true : never = true;
const everyTemplateField: Missing<MembershipTemplate, (typeof MEMBERSHIP_TEMPLATE_FIELDS)[number]> extends never ? true : never = true;
void everyInputField;
void everyTemplateField;

function referenceType(ref: Reference | undefined): string | undefined {
  return ref?.reference?.split('/')[0];
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Takes a shorthand field from the top level or from membership; both given and different → 400. */
function merge<K extends 'accessPolicy' | 'access' | 'admin' | 'externalId'>(body: InviteInput, key: K): { value: MembershipTemplate[K]; source: string } {
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
  const body = input as InviteInput;
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
