import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Parameters, ParametersParameter, ProjectMembership } from '@medplum/fhirtypes';
import { INVITE_STATUS_URL } from '../../src/invite/invite-status';
import { mailsTo, outputs, postInvite } from './invite';
import type { TestSmtp } from './smtp';

/** The invite lifecycle over HTTP: $invite, $resend-invite, $revoke-invite, the link, the status. */

export const FHIR_JSON = { 'content-type': 'application/fhir+json' };

/** The id and secret of the activation link in a mail, whatever the server's base URL. */
export function linkIn(text: string): { id: string; secret: string } {
  const match = /\/setpassword\/([A-Za-z0-9_-]+)\/([A-Za-z0-9_-]+)/.exec(text);
  if (!match) {
    throw new Error(`no activation link in: ${text.slice(0, 200)}`);
  }
  return { id: match[1], secret: match[2] };
}

/** The invite-status extension of a membership as a plain object: status and its parts. */
export function inviteExtension(membership: ProjectMembership): Record<string, unknown> | undefined {
  const extension = membership.extension?.find((e) => e.url === INVITE_STATUS_URL);
  if (!extension) {
    return undefined;
  }
  const out: Record<string, unknown> = {};
  for (const part of extension.extension ?? []) {
    const { url, ...value } = part;
    out[url] = Object.values(value)[0];
  }
  return out;
}

/** The status the membership shows. */
export function statusOf(membership: ProjectMembership): unknown {
  return inviteExtension(membership)?.status;
}

/** GET /fhir/R4/ProjectMembership/{id} (must answer 200). */
export async function readMembership(app: FastifyInstance, headers: Record<string, string>, id: string): Promise<ProjectMembership> {
  const res = await app.inject({ method: 'GET', url: `/fhir/R4/ProjectMembership/${id}`, headers });
  if (res.statusCode !== 200) {
    throw new Error(`read failed: ${res.statusCode} ${res.body}`);
  }
  return res.json() as ProjectMembership;
}

export interface OperationCall {
  sendEmail?: boolean;
  idempotencyKey?: string;
}

/** POST .../ProjectMembership/{id}/$resend-invite with a Parameters body. */
export function resend(app: FastifyInstance, headers: Record<string, string>, id: string, call: OperationCall = {}): Promise<LightMyRequestResponse> {
  const parameter: ParametersParameter[] = call.sendEmail === undefined ? [] : [{ name: 'sendEmail', valueBoolean: call.sendEmail }];
  const all: Record<string, string> = { ...headers, ...FHIR_JSON, ...(call.idempotencyKey ? { 'idempotency-key': call.idempotencyKey } : {}) };
  return app.inject({ method: 'POST', url: `/fhir/R4/ProjectMembership/${id}/$resend-invite`, headers: all, payload: { resourceType: 'Parameters', parameter } });
}

/** POST .../ProjectMembership/{id}/$revoke-invite with an empty Parameters body. */
export function revoke(app: FastifyInstance, headers: Record<string, string>, id: string): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: `/fhir/R4/ProjectMembership/${id}/$revoke-invite`, headers: { ...headers, ...FHIR_JSON }, payload: { resourceType: 'Parameters', parameter: [] } });
}

/** The named outputs of a $resend-invite answer. */
export function resendOutputs(res: LightMyRequestResponse): { membership: ProjectMembership; emailStatus?: string; activationUrl?: string } {
  const params = res.json() as Parameters;
  const get = (name: string): ParametersParameter | undefined => params.parameter?.find((p) => p.name === name);
  return { membership: get('membership')?.resource as ProjectMembership, emailStatus: get('emailStatus')?.valueCode, activationUrl: get('activationUrl')?.valueUri };
}

/** Invites a Practitioner by email (201 expected); answers the membership and the link of the mail. */
export async function inviteByMail(
  app: FastifyInstance,
  smtp: TestSmtp,
  headers: Record<string, string>,
  projectId: string,
  email: string,
  fields: Record<string, unknown> = {},
): Promise<{ membership: ProjectMembership & { id: string }; link: { id: string; secret: string }; res: LightMyRequestResponse }> {
  const before = smtp.messages.filter((m) => m.to && !Array.isArray(m.to) && m.to.text === email).length;
  const res = await postInvite(app, headers, projectId, { resourceType: 'Practitioner', firstName: 'Ada', lastName: 'Quill', email, ...fields });
  if (res.statusCode !== 201 && res.statusCode !== 200) {
    throw new Error(`invite failed: ${res.statusCode} ${res.body}`);
  }
  const mails = await mailsTo(smtp, email, before + 1);
  return { membership: outputs(res).membership as ProjectMembership & { id: string }, link: linkIn(mails[mails.length - 1].text as string), res };
}

/** The newest mail to an address, once there are `count`. */
export async function lastMailTo(smtp: TestSmtp, email: string, count: number): Promise<string> {
  const mails = await mailsTo(smtp, email, count);
  return mails[mails.length - 1].text as string;
}

/** POST /auth/setpassword through a link. */
export function setPassword(app: FastifyInstance, link: { id: string; secret: string }, password = 'a fine long passphrase'): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: '/auth/setpassword', payload: { ...link, password } });
}

/** GET the activation page of a link. */
export function openLink(app: FastifyInstance, link: { id: string; secret: string }): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'GET', url: `/setpassword/${link.id}/${link.secret}` });
}

/** A membership id per status among a searchset's entries. */
export function ids(res: LightMyRequestResponse): string[] {
  return ((res.json() as { entry?: { resource: { id: string } }[] }).entry ?? []).map((e) => e.resource.id).sort();
}
