import type { Resource } from '@medplum/fhirtypes';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { FHIR_JSON } from './fhir';
import { uniqueEmail } from './fixtures';

/** A resource as the server answered it (id and meta set). */
export type Stored = Resource & { id: string; meta?: Resource['meta'] };

/**
 * One resource of every stored type, each created with POST /fhir/R4/{type} (201 with a Location)
 * by `headers`' caller in `projectId`, rich enough that every search parameter the server has
 * finds it (names, identifiers, telecom, gender, dates, references between them). `tag` keeps
 * two sets apart. Answers them by type. `send` makes the requests (a test may record them).
 * AuditEvent cannot be POSTed (the server writes it): its fixture is the event the membership's
 * creation left, found by search (`headers` must be allowed to search AuditEvent).
 */
export async function createEveryType(
  app: FastifyInstance,
  headers: Record<string, string>,
  projectId: string,
  tag: string,
  send: (options: InjectOptions) => Promise<LightMyRequestResponse> = (options) => app.inject(options),
): Promise<Map<string, Stored>> {
  const made = new Map<string, Stored>();
  const create = async (fields: Record<string, unknown>): Promise<Stored> => {
    // A super administrator writes into `projectId` by naming it (a Project owns itself).
    const resource = fields.resourceType === 'Project' ? fields : { ...fields, meta: { project: projectId } };
    const res = await send({ method: 'POST', url: `/fhir/R4/${String(resource.resourceType)}`, headers: { ...headers, ...FHIR_JSON }, payload: resource });
    const created = res.json() as Stored;
    if (res.statusCode !== 201 || !String(res.headers.location).includes(`/${created.resourceType}/${created.id}/_history/1`)) {
      throw new Error(`creating a ${String(resource.resourceType)}: ${res.statusCode} ${res.body}`);
    }
    made.set(created.resourceType, created);
    return created;
  };
  const person = (resourceType: string) => ({
    resourceType,
    active: true,
    name: [{ given: [`Walker${tag}`], family: `Walkerson${tag}` }],
    identifier: [{ system: 'http://walk.example/id', value: `W-${resourceType}-${tag}` }],
    telecom: [
      { system: 'email', value: `walk-${resourceType.toLowerCase()}-${tag}@example.com` },
      { system: 'phone', value: `555-01${tag}` },
    ],
    gender: 'female',
  });
  const patient = await create({ ...person('Patient'), birthDate: '1970-01-02', address: [{ line: ['1 Walk Street'], city: `Walkton${tag}` }] });
  const practitioner = await create(person('Practitioner'));
  await create({ ...person('RelatedPerson'), birthDate: '1971-02-03', patient: { reference: `Patient/${patient.id}` } });
  const user = await create({
    resourceType: 'User',
    firstName: 'Walk',
    lastName: `User${tag}`,
    email: uniqueEmail(`walk-user-${tag}`),
    externalId: `ext-user-${tag}`,
    identifier: [{ system: 'http://walk.example/user', value: `U-${tag}` }],
    project: { reference: `Project/${projectId}` },
  });
  await create({ resourceType: 'Project', name: `Walk project ${tag}`, identifier: [{ system: 'http://walk.example/project', value: `P-${tag}` }], owner: { reference: `User/${user.id}` } });
  await create({ resourceType: 'ClientApplication', name: `Walk client ${tag}` });
  const policy = await create({ resourceType: 'AccessPolicy', name: `Walk policy ${tag}`, resource: [{ resourceType: 'Patient' }] });
  const membership = await create({
    resourceType: 'ProjectMembership',
    project: { reference: `Project/${projectId}` },
    user: { reference: `User/${user.id}`, display: `walk-user-${tag}` },
    profile: { reference: `Practitioner/${practitioner.id}` },
    accessPolicy: { reference: `AccessPolicy/${policy.id}` },
    userName: `walk-${tag}`,
    externalId: `ext-membership-${tag}`,
    identifier: [{ system: 'http://walk.example/membership', value: `M-${tag}` }],
    admin: false,
    active: true,
  });
  // Switched off (the walk needs it stored and found, not delivering), at a public address literal (no name to resolve).
  await create({
    resourceType: 'Subscription',
    status: 'off',
    reason: `Walk subscription ${tag}`,
    criteria: `Patient?family=Walkerson${tag}`,
    contact: [{ system: 'email', value: `walk-subscription-${tag}@example.com` }],
    channel: { type: 'rest-hook', endpoint: `https://93.184.215.14/hook/${tag}`, payload: 'application/fhir+json' },
  });
  const events = await send({ method: 'GET', url: `/fhir/R4/AuditEvent?entity=ProjectMembership/${membership.id}&_sort=-date`, headers });
  const event = (events.json() as { entry?: { resource?: Stored }[] }).entry?.[0]?.resource;
  if (events.statusCode !== 200 || !event) {
    throw new Error(`finding the AuditEvent of ProjectMembership/${membership.id}: ${events.statusCode} ${events.body}`);
  }
  made.set('AuditEvent', event);
  return made;
}
