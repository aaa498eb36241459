import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { AccessPolicy, Parameters, ParametersParameter, Patient, Practitioner, ProjectMembership, RelatedPerson, Resource, User } from '@medplum/fhirtypes';
import type { AuthContext } from '../../src/accounts/auth-context';
import { newId } from '../../src/clock';
import { createResource, type StoredResource } from '../../src/fhir/repository';
import { rootAuth } from './access';
import { createAccount, createMembership, createPractitioner as createProfile, createProject, repoOf, uniqueEmail } from './fixtures';
import type { ParsedMail } from 'mailparser';
import type { TestSmtp } from './smtp';
import { KeyedLock } from '../../src/db/keyed-lock';
import { operationAnswer } from '../../src/invite/invite-output';
import { normalizeInviteRequest } from '../../src/invite/invite-request';
import { type InviteDeps, type InviteResult, runInvite } from '../../src/invite/invite-service';
import { loadInviteTemplates } from '../../src/invite/invite-templates';

/** Test data for the invite suites, written straight through the repository. */

export { createProject, uniqueEmail };
export const repo = repoOf;

/** The password of every fixture account. */
export const PASSWORD = 'a-long-test-password';

export async function createPolicy(app: FastifyInstance, projectId: string, name = 'Policy'): Promise<AccessPolicy & { id: string }> {
  return (await createResource<AccessPolicy>(repo(app), { resourceType: 'AccessPolicy', name, resource: [{ resourceType: 'Patient' }] }, { project: projectId })) as AccessPolicy & {
    id: string;
  };
}

export async function createPatient(app: FastifyInstance, projectId: string, email?: string): Promise<Patient & { id: string }> {
  const patient: Patient = { resourceType: 'Patient', name: [{ given: ['Pat'], family: 'Ient' }] };
  if (email) {
    patient.telecom = [{ system: 'email', value: email }];
  }
  return (await createResource<Patient>(repo(app), patient, { project: projectId })) as Patient & { id: string };
}

export async function createPractitioner(app: FastifyInstance, projectId: string, email?: string): Promise<Practitioner & { id: string }> {
  return createProfile(app, projectId, email ? { telecom: [{ system: 'email', value: email }] } : {});
}

export async function createRelatedPerson(app: FastifyInstance, projectId: string, patientId: string, email: string): Promise<RelatedPerson & { id: string }> {
  const resource: RelatedPerson = {
    resourceType: 'RelatedPerson',
    patient: { reference: `Patient/${patientId}` },
    name: [{ given: ['Rel'], family: 'Ative' }],
    telecom: [{ system: 'email', value: email }],
  };
  return (await createResource<RelatedPerson>(repo(app), resource, { project: projectId })) as RelatedPerson & { id: string };
}

export interface Member {
  user: User & { id: string };
  membership: ProjectMembership & { id: string };
  email: string;
  password: string;
  /** An AuthContext as the auth domain would build it from this member's token. */
  auth: AuthContext;
}

/** A server-scoped User with a password and a membership (admin or not) in the project. */
export async function createMember(app: FastifyInstance, projectId: string, options: { admin?: boolean; email?: string } = {}): Promise<Member> {
  const email = options.email ?? uniqueEmail(options.admin ? 'admin' : 'member');
  const user = await createAccount(app, { email, password: PASSWORD, firstName: 'Mem', lastName: 'Ber' });
  const profile = await createPractitioner(app, projectId, email);
  const membership = await createMembership(app, { projectId, user: `User/${user.id}`, profile: `Practitioner/${profile.id}`, admin: options.admin ?? false });
  const auth: AuthContext = {
    userId: user.id,
    userType: 'User',
    loginId: newId(),
    projectId,
    membershipId: membership.id,
    profile: { reference: `Practitioner/${profile.id}` },
    projectAdmin: options.admin ?? false,
    superAdmin: false,
  };
  return { user, membership, email, password: PASSWORD, auth };
}

/**
 * The bootstrap super administrator as an AuthContext (for calling the service directly). Read
 * from the database: the invite checks the stored membership, so a made-up one is refused.
 */
export function superAdminAuth(app: FastifyInstance): Promise<AuthContext> {
  return rootAuth(app);
}

export async function stored<T extends ProjectMembership | User>(app: FastifyInstance, type: string, filter: Record<string, unknown>): Promise<StoredResource<T>[]> {
  return (await app.ctx.database.db.collection(type).find(filter).toArray()) as unknown as StoredResource<T>[];
}

/** Counts of current (non-deleted) documents per type, for "one User, one membership" checks. */
export async function countCurrent(app: FastifyInstance, type: string, filter: Record<string, unknown> = {}): Promise<number> {
  return app.ctx.database.db.collection(type).countDocuments({ ...filter, deleted: false });
}

export type InviteForm = 'json' | 'parameters' | 'admin';

const CODES = new Set(['resourceType', 'scope']);
const REFERENCES = new Set(['accessPolicy', 'patient', 'profile', 'policy', 'valueReference']);

function entry(name: string, value: unknown): ParametersParameter[] {
  if (Array.isArray(value)) {
    return value.flatMap((v) => entry(name, v));
  }
  if (REFERENCES.has(name)) {
    return [{ name, valueReference: value as { reference: string } }];
  }
  if (value && typeof value === 'object') {
    return [{ name, part: Object.entries(value).flatMap(([k, v]) => entry(k, v)) }];
  }
  if (typeof value === 'boolean') {
    return [{ name, valueBoolean: value }];
  }
  return [CODES.has(name) ? { name, valueCode: value as string } : { name, valueString: value as string }];
}

/** The FHIR Parameters form of a plain-JSON invite. */
export function toParameters(body: Record<string, unknown>): Parameters {
  return { resourceType: 'Parameters', parameter: Object.entries(body).flatMap(([k, v]) => entry(k, v)) };
}

export interface InviteCall {
  form?: InviteForm;
  idempotencyKey?: string;
}

/** POSTs an invite in one of its three forms ($invite with JSON or Parameters, or the admin endpoint). */
export function postInvite(
  app: FastifyInstance,
  headers: Record<string, string>,
  projectId: string,
  body: Record<string, unknown>,
  call: InviteCall = {},
): Promise<LightMyRequestResponse> {
  const form = call.form ?? 'json';
  const all: Record<string, string> = { ...headers, 'content-type': 'application/fhir+json' };
  if (call.idempotencyKey) {
    all['idempotency-key'] = call.idempotencyKey;
  }
  const url = form === 'admin' ? `/admin/projects/${projectId}/invite` : `/fhir/R4/Project/${projectId}/$invite`;
  const payload = form === 'parameters' ? toParameters(body) : body;
  return app.inject({ method: 'POST', url, headers: all, payload: JSON.stringify(payload) });
}

/** The named outputs of an $invite answer. */
export function outputs(res: LightMyRequestResponse): { membership: ProjectMembership; profile: Resource; user: { reference: string }; emailStatus: string; activationUrl?: string } {
  const params = res.json() as Parameters;
  const get = (name: string): ParametersParameter | undefined => params.parameter?.find((p) => p.name === name);
  return {
    membership: get('membership')?.resource as ProjectMembership,
    profile: get('profile')?.resource as Resource,
    user: get('user')?.valueReference as { reference: string },
    emailStatus: get('emailStatus')?.valueCode as string,
    activationUrl: get('activationUrl')?.valueUri,
  };
}

/** The first issue of an OperationOutcome answer. */
export function firstIssue(res: LightMyRequestResponse): { code?: string; text?: string; expression?: string[] } {
  const body = res.json() as { resourceType: string; issue?: { code?: string; details?: { text?: string }; expression?: string[] }[] };
  expect(body.resourceType).toBe('OperationOutcome');
  const first = body.issue?.[0];
  return { code: first?.code, text: first?.details?.text, expression: first?.expression };
}

/** An activation link in a mail: `{BASE_URL}setpassword/{id}/{secret}`. */
export const ACTIVATION_LINK = /http:\/\/localhost:8103\/setpassword\/([A-Za-z0-9_-]+)\/([A-Za-z0-9_-]+)/;

/** The mails the test SMTP server received for `address`, once there are at least `count` (waits up to 10 s). */
export async function mailsTo(smtp: TestSmtp, address: string, count = 1): Promise<ParsedMail[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const mails = smtp.messages.filter((m) => m.to && !Array.isArray(m.to) && m.to.text === address);
    if (mails.length >= count) {
      return mails;
    }
    if (Date.now() > deadline) {
      throw new Error(`expected ${count} mail(s) to ${address}, got ${mails.length}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The id and secret of the activation link in a mail (or in a URL). */
export function linkParts(text: string): { id: string; secret: string } {
  const match = ACTIVATION_LINK.exec(text);
  if (!match) {
    throw new Error(`no activation link in: ${text.slice(0, 200)}`);
  }
  return { id: match[1], secret: match[2] };
}

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
