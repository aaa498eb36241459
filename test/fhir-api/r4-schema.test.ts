import type { Bundle, CapabilityStatement, OperationDefinition, Parameters } from '@medplum/fhirtypes';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { SignedIn } from '../helpers/auth';
import { form } from '../helpers/auth';
import { createEveryType, type Stored } from '../helpers/every-type';
import { createPolicyMember, createProjectAdmin, FHIR_JSON, type ProjectAdmin } from '../helpers/fhir';
import { uniqueEmail } from '../helpers/fixtures';
import { embeddedResources, r4SchemaErrors } from '../helpers/r4-schema';
import { useSignIn, useTestApp } from '../helpers/suite';

/**
 * Every resource the server emits validates: this suite calls every FHIR route (and the admin and
 * auth routes that answer resources) in its successful and refused forms, and checks every body
 * with test/helpers/r4-schema.ts (the official R4 JSON schema, Medplum's definitions for Medplum's
 * types). The last test checks that every FHIR route of the OpenAPI document was called with success.
 */

interface Call {
  method: string;
  path: string;
  status: number;
}

describe('what the server emits validates against the R4 JSON schema and Medplum\'s definitions', () => {
  const t = useTestApp({ smtp: true });
  const root = useSignIn(t);
  let owner: ProjectAdmin;
  let member: SignedIn;
  let cs: CapabilityStatement;
  const calls: Call[] = [];
  const failures: string[] = [];
  let checkedBodies = 0;
  let first: Map<string, Stored>;
  let second: Map<string, Stored>;

  /** Injects, records the call, and checks every resource in the answer. */
  const call = async (options: InjectOptions): Promise<LightMyRequestResponse> => {
    const res = await t.app.inject(options);
    const path = String(options.url).split('?')[0];
    calls.push({ method: String(options.method), path, status: res.statusCode });
    const type = String(res.headers['content-type'] ?? '');
    if (type.includes('json') && res.body) {
      const body = res.json() as unknown;
      const resources = embeddedResources(body);
      if (path.startsWith('/fhir/R4') && resources.length === 0) {
        failures.push(`${String(options.method)} ${String(options.url)} → ${res.statusCode}: not a FHIR resource: ${res.body.slice(0, 120)}`);
      }
      for (const resource of resources) {
        checkedBodies += 1;
        failures.push(...r4SchemaErrors(resource, `${String(options.method)} ${String(options.url)} → ${res.statusCode}`));
      }
    }
    return res;
  };
  const as = (session: { headers: Record<string, string> }, method: string, url: string, payload?: unknown, headers: Record<string, string> = {}) =>
    call({ method: method as 'GET', url, headers: { ...session.headers, ...(payload !== undefined ? FHIR_JSON : {}), ...headers }, ...(payload !== undefined ? { payload: payload as object } : {}) });
  const get = (url: string, session: { headers: Record<string, string> } = owner.session) => as(session, 'GET', url.replace('http://localhost:8103', ''));

  beforeAll(async () => {
    owner = await createProjectAdmin(t.app, 'Schema', uniqueEmail('schema-owner'));
    member = await createPolicyMember(t.app, owner.projectId, uniqueEmail('schema-member'), {
      resourceType: 'AccessPolicy',
      name: 'Hidden birth dates',
      resource: [{ resourceType: 'Patient', hiddenFields: ['birthDate', 'telecom'], readonlyFields: ['gender'] }, { resourceType: 'Practitioner', interaction: ['read', 'search'] }],
    });
    // The super administrator can write every type (Project and server users included).
    first = await createEveryType(t.app, root.headers, owner.projectId, 's1', call);
    second = await createEveryType(t.app, root.headers, owner.projectId, 's2', call);
  });

  // Each test answers for the bodies it received (the set-up's are checked by the first).
  let fromSetUp = true;
  beforeEach(() => {
    if (!fromSetUp) {
      failures.length = 0;
    }
    fromSetUp = false;
  });

  test('the check itself refuses what the schemas and FHIR JSON refuse', () => {
    expect(r4SchemaErrors({ resourceType: 'Patient', name: [{ family: 'Fine' }], meta: { project: 'p1', author: { reference: 'User/u1' } } })).toEqual([]);
    const bad = r4SchemaErrors({ resourceType: 'Patient', gender: 'bogus', name: [], photo: [{}], active: null, nickname: 'x', meta: { account: { reference: 'Organization/1' } } });
    expect(bad).toEqual(
      expect.arrayContaining([
        'Patient.gender: must be equal to one of the allowed values',
        'Patient.name: empty array',
        'Patient.photo[0]: empty object',
        'Patient.active: null',
        'Patient: must NOT have additional properties (nickname)',
        'Patient.meta: must NOT have additional properties (account)',
      ]),
    );
    const bundle = {
      resourceType: 'Bundle',
      type: 'searchset',
      entry: [{ resource: { resourceType: 'Project', name: 'P', owner: 'User/1' } }, { resource: { resourceType: 'Practitioner', gender: 'x' } }],
    };
    const nested = r4SchemaErrors(bundle);
    // A string where a Reference belongs: the JSON schema (whose complex types do not say "object") lets it
    // through, Medplum's StructureDefinition does not.
    expect(nested.some((e) => e.startsWith('Bundle.entry[0].resource (StructureDefinition)') && e.includes('Project.owner'))).toBe(true);
    expect(nested.some((e) => e.startsWith('Bundle.entry[1].resource.gender'))).toBe(true);
    expect(r4SchemaErrors({ resourceType: 'CapabilityStatement', status: 'active', date: '2026-01-01', kind: 'instance', fhirVersion: '4.0.1', format: ['json'] })).toEqual([]);
    expect(r4SchemaErrors({ resourceType: 'Observation', status: 'final', code: { text: 'x' } })).toEqual([]);
    expect(r4SchemaErrors({ resourceType: 'NoSuchType' })).toEqual(['NoSuchType: NoSuchType is neither an R4 nor a Medplum resource type']);
  });

  test('metadata and OperationDefinitions', async () => {
    cs = (await call({ method: 'GET', url: '/fhir/R4/metadata' })).json() as CapabilityStatement;
    const list = (await call({ method: 'GET', url: '/fhir/R4/OperationDefinition' })).json() as Bundle<OperationDefinition>;
    for (const entry of list.entry ?? []) {
      await call({ method: 'GET', url: `/fhir/R4/OperationDefinition/${entry.resource?.id}` });
    }
    expect(failures).toEqual([]);
  });

  test('every interaction of every type, read back as written, searched, paged and in history', async () => {
    for (const entry of cs.rest?.[0].resource ?? []) {
      const type = entry.type as string;
      const one = first.get(type) as Stored;
      const other = second.get(type) as Stored;
      await as(root, 'GET', `/fhir/R4/${type}/${one.id}`);
      await as(root, 'GET', `/fhir/R4/${type}/${one.id}/_history/1`);
      const current = (await as(root, 'GET', `/fhir/R4/${type}/${other.id}`)).json() as Stored;
      await as(root, 'PUT', `/fhir/R4/${type}/${other.id}`, { ...current, extension: [{ url: 'http://walk.example/updated', valueBoolean: true }] });
      await as(root, 'GET', `/fhir/R4/${type}?_id=${one.id},${other.id}`);
      await as(root, 'GET', `/fhir/R4/${type}?_count=1`).then(async (res) => {
        const next = (res.json() as Bundle).link?.find((l) => l.relation === 'next')?.url;
        if (next) {
          await get(next, root);
        }
      });
      for (const include of entry.searchInclude ?? []) {
        await as(root, 'GET', `/fhir/R4/${type}?_id=${one.id}&_include=${include}`);
      }
      for (const revInclude of entry.searchRevInclude ?? []) {
        await as(root, 'GET', `/fhir/R4/${type}?_id=${one.id}&_revinclude=${revInclude}`);
      }
      await as(root, 'GET', `/fhir/R4/${type}?_summary=count`);
      await as(root, 'GET', `/fhir/R4/${type}?_total=accurate&_elements=meta&_count=2`);
      await call({ method: 'POST', url: `/fhir/R4/${type}/_search`, headers: { ...root.headers, ...form({ _id: one.id }).headers }, payload: form({ _id: one.id }).payload });
      await as(root, 'GET', `/fhir/R4/${type}/${one.id}/_history`);
      await as(root, 'GET', `/fhir/R4/${type}/_history?_count=2`);
    }
    // Deletes last (deleting a User takes its memberships), then what a deletion looks like after.
    for (const type of ['ProjectMembership', 'Patient', 'Practitioner', 'RelatedPerson', 'AccessPolicy', 'ClientApplication', 'User', 'Project']) {
      const other = second.get(type) as Stored;
      await as(root, 'DELETE', `/fhir/R4/${type}/${other.id}`);
      await as(root, 'GET', `/fhir/R4/${type}/${other.id}`);
      await as(root, 'GET', `/fhir/R4/${type}/${other.id}/_history`);
    }
    expect(failures).toEqual([]);
  });

  test('what a project administrator and a member with hidden fields are answered', async () => {
    const patient = first.get('Patient') as Stored;
    await get(`/fhir/R4/Patient/${patient.id}`);
    await get(`/fhir/R4/Patient/${patient.id}`, member);
    await get('/fhir/R4/Patient?_count=5', member);
    await get(`/fhir/R4/Patient/${patient.id}/_history`, member);
    await get('/fhir/R4/Practitioner?_count=5&_revinclude=ProjectMembership:profile', owner.session);
    await get('/fhir/R4/ProjectMembership?_include=ProjectMembership:profile&_include=ProjectMembership:user', owner.session);
    await get('/fhir/R4/User?_count=5', owner.session);
    await get(`/fhir/R4/Project/${owner.projectId}`, owner.session);
    expect(failures).toEqual([]);
  });

  test('the system level', async () => {
    await get('/fhir/R4?_type=Patient,Practitioner,RelatedPerson&_count=5');
    await get('/fhir/R4?_count=3', member);
    await get('/fhir/R4?_type=Patient&_summary=count');
    await call({ method: 'POST', url: '/fhir/R4/_search', headers: { ...owner.session.headers, ...form({ _type: 'Patient', _count: '2' }).headers }, payload: form({ _type: 'Patient', _count: '2' }).payload });
    await get('/fhir/R4/_history?_count=5');
    await get('/fhir/R4/_history?_count=5', member);
    expect(failures).toEqual([]);
  });

  test('operations: $invite in both forms, the invite lifecycle, and $validate of every type at both levels', async () => {
    const invited = await as(owner.session, 'POST', `/fhir/R4/Project/${owner.projectId}/$invite`, { resourceType: 'Patient', firstName: 'Schema', lastName: 'Invitee', email: uniqueEmail('schema-invitee'), sendEmail: false });
    const membershipId = ((invited.json() as Parameters).parameter?.find((p) => p.name === 'membership')?.resource as { id: string }).id;
    expect((await as(owner.session, 'POST', `/fhir/R4/ProjectMembership/${membershipId}/$resend-invite`, { resourceType: 'Parameters', parameter: [{ name: 'sendEmail', valueBoolean: false }] })).statusCode).toBe(200);
    expect((await as(owner.session, 'POST', `/fhir/R4/ProjectMembership/${membershipId}/$revoke-invite`, { resourceType: 'Parameters' })).statusCode).toBe(200);
    await as(owner.session, 'POST', `/fhir/R4/Project/${owner.projectId}/$invite`, {
      resourceType: 'Parameters',
      parameter: [
        { name: 'resourceType', valueCode: 'Practitioner' },
        { name: 'firstName', valueString: 'Schema' },
        { name: 'lastName', valueString: 'Mailed' },
        { name: 'email', valueString: uniqueEmail('schema-mailed') },
      ],
    });
    for (const [type, resource] of first) {
      await as(root, 'POST', `/fhir/R4/${type}/$validate`, { ...resource, id: undefined, meta: undefined });
      await as(root, 'POST', `/fhir/R4/${type}/${resource.id}/$validate`, { resourceType: 'Parameters', parameter: [{ name: 'resource', resource }, { name: 'mode', valueCode: 'update' }] });
    }
    await as(root, 'POST', '/fhir/R4/Patient/$validate', { resourceType: 'Patient', gender: 'bogus', name: [{ family: '' }] });
    expect(failures).toEqual([]);
  });

  test('every refusal is a valid OperationOutcome', async () => {
    const patient = first.get('Patient') as Stored;
    const refusals: [string, () => Promise<LightMyRequestResponse>][] = [
      ['400', () => as(owner.session, 'POST', '/fhir/R4/Patient', { resourceType: 'Patient', gender: 'bogus' })],
      ['400', () => get('/fhir/R4/Patient?nonsense=1')],
      ['401', () => call({ method: 'GET', url: '/fhir/R4/Patient' })],
      ['403', () => as(member, 'POST', '/fhir/R4/Practitioner', { resourceType: 'Practitioner' })],
      ['404', () => get('/fhir/R4/Patient/no-such-patient')],
      ['404', () => get('/fhir/R4/Patient/$meta')],
      ['405', () => call({ method: 'DELETE', url: '/fhir/R4/metadata' })],
      ['406', () => call({ method: 'GET', url: '/fhir/R4/metadata?_format=xml' })],
      ['409', () => as(root, 'POST', '/fhir/R4/User', { resourceType: 'User', firstName: 'Dup', lastName: 'Licate', email: 'admin@example.com' })],
      ['410', () => get(`/fhir/R4/Patient/${second.get('Patient')?.id}`, root)],
      ['412', () => as(root, 'PUT', `/fhir/R4/Patient/${patient.id}`, patient, { 'if-match': 'W/"999"' })],
      ['415', () => call({ method: 'POST', url: '/fhir/R4/Patient', headers: { ...owner.session.headers, 'content-type': 'text/plain' }, payload: 'x' })],
    ];
    for (const [status, run] of refusals) {
      const res = await run();
      expect({ status: res.statusCode, body: res.json().resourceType }).toEqual({ status: Number(status), body: 'OperationOutcome' });
    }
    expect(failures).toEqual([]);
  });

  test('the admin and auth answers that carry resources', async () => {
    await as(owner.session, 'POST', `/admin/projects/${owner.projectId}/invite`, { resourceType: 'Practitioner', firstName: 'Admin', lastName: 'Form', email: uniqueEmail('schema-admin-form'), sendEmail: false });
    await as(owner.session, 'POST', `/admin/projects/${owner.projectId}/client`, { name: 'Schema client' });
    await get(`/admin/projects/${owner.projectId}`);
    await get('/auth/me');
    await get('/auth/me', member);
    expect(failures).toEqual([]);
  });

  test('routes added for batches, PATCH and conditional writes are checked when the server has them', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, Record<string, unknown>> };
    const has = (method: string, path: string) => Object.keys(doc.paths[path] ?? doc.paths[`${path}/`] ?? {}).includes(method);
    const patient = first.get('Patient') as Stored;
    if (has('post', '/fhir/R4')) {
      for (const type of ['transaction', 'batch']) {
        await as(root, 'POST', '/fhir/R4', {
          resourceType: 'Bundle',
          type,
          entry: [
            { fullUrl: 'urn:uuid:0d4c36d5-1c3e-4a5e-9d3f-2b6f3f0a7c11', resource: { resourceType: 'Patient', name: [{ family: `Schema${type}` }] }, request: { method: 'POST', url: 'Patient' } },
            { request: { method: 'GET', url: `Patient/${patient.id}` } },
            { request: { method: 'GET', url: 'Patient/no-such-patient' } },
          ],
        });
      }
    }
    if (has('patch', '/fhir/R4/{type}/{id}')) {
      await call({
        method: 'PATCH',
        url: `/fhir/R4/Patient/${patient.id}`,
        headers: { ...root.headers, 'content-type': 'application/json-patch+json' },
        payload: JSON.stringify([{ op: 'add', path: '/extension', value: [{ url: 'http://walk.example/patched', valueBoolean: true }] }]),
      });
    }
    if (has('put', '/fhir/R4/{type}')) {
      const current = (await get(`/fhir/R4/Patient/${patient.id}`, root)).json() as Stored;
      await as(root, 'PUT', `/fhir/R4/Patient?_id=${patient.id}`, current);
    }
    if (has('delete', '/fhir/R4/{type}')) {
      await as(root, 'DELETE', `/fhir/R4/RelatedPerson?_id=${first.get('RelatedPerson')?.id}`);
    }
    expect(failures).toEqual([]);
  });

  test('every FHIR route of the OpenAPI document was called with success, and every answer was checked', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, Record<string, unknown>> };
    const routes = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/fhir/R4'))
      .flatMap(([path, methods]) => Object.keys(methods).map((m) => ({ method: m.toUpperCase(), path: path.replace(/\/$/, '') })));
    const pattern = (path: string) => new RegExp(`^${path.replace(/[$.]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}/?$`);
    /** The route the router would pick for a call: the matching one with the fewest parameters. */
    const routeOf = (c: Call) =>
      routes
        .filter((r) => r.method === c.method && pattern(r.path).test(c.path.replace(/\/$/, '')))
        .sort((a, b) => (a.path.match(/\{/g) ?? []).length - (b.path.match(/\{/g) ?? []).length)[0];
    const covered = new Set(calls.filter((c) => c.status < 300).map((c) => routeOf(c)).filter(Boolean).map((r) => `${r?.method} ${r?.path}`));
    const missing = routes.map((r) => `${r.method} ${r.path}`).filter((r) => !covered.has(r));
    expect(missing).toEqual([]);
    expect(routes.length).toBeGreaterThan(20);
    expect(checkedBodies).toBeGreaterThan(200);
    expect(failures).toEqual([]);
  });
});
