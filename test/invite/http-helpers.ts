import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Parameters, ParametersParameter, ProjectMembership, Resource } from '@medplum/fhirtypes';

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
