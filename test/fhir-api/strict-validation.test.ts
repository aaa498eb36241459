import type { Bundle, CapabilityStatement, Patient, Resource } from '@medplum/fhirtypes';
import { snapshotDatabase } from '../helpers/app';
import { FHIR_JSON, issues, post } from '../helpers/fhir';
import { useSignIn, useTestApp } from '../helpers/suite';

/** Every array, object and string in a JSON value that FHIR JSON forbids (empty), with its path. */
function emptyValues(value: unknown, path: string, out: string[] = []): string[] {
  if (value === null || value === '' || (Array.isArray(value) && value.length === 0) || (typeof value === 'object' && value !== null && Object.keys(value).length === 0)) {
    out.push(path);
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => emptyValues(item, `${path}[${i}]`, out));
  } else if (typeof value === 'object' && value !== null) {
    Object.entries(value).forEach(([key, item]) => emptyValues(item, `${path}.${key}`, out));
  }
  return out;
}

describe('strict validation on write', () => {
  const t = useTestApp();
  const admin = useSignIn(t);
  let existing: Patient & { id: string };

  beforeAll(async () => {
    existing = await post<Patient>(t.app, admin.headers, { resourceType: 'Patient', name: [{ family: 'Strict' }], gender: 'female' });
  });

  const write = (method: 'POST' | 'PUT', resource: Resource) =>
    t.app.inject({ method, url: method === 'POST' ? `/fhir/R4/${resource.resourceType}` : `/fhir/R4/${resource.resourceType}/${resource.id}`, headers: { ...admin.headers, ...FHIR_JSON }, payload: resource });

  const refused: [string, Record<string, unknown>, string, string][] = [
    ['gender: "bogus"', { gender: 'bogus' }, 'Patient.gender', 'code-invalid'],
    ['telecom.system: "pager2"', { telecom: [{ system: 'pager2', value: '555' }] }, 'Patient.telecom[0].system', 'code-invalid'],
    ['telecom.use: "car"', { telecom: [{ system: 'phone', value: '555', use: 'car' }] }, 'Patient.telecom[0].use', 'code-invalid'],
    ['name.use: "nick"', { name: [{ use: 'nick', family: 'X' }] }, 'Patient.name[0].use', 'code-invalid'],
    ['address.type: "virtual"', { address: [{ type: 'virtual', city: 'Oslo' }] }, 'Patient.address[0].type', 'code-invalid'],
    ['identifier.use: "main"', { identifier: [{ use: 'main', value: 'A1' }] }, 'Patient.identifier[0].use', 'code-invalid'],
    ['link.type: "zzz"', { link: [{ other: { reference: 'Patient/x' }, type: 'zzz' }] }, 'Patient.link[0].type', 'code-invalid'],
    ['family: ""', { name: [{ family: '' }] }, 'Patient.name[0].family', 'structure'],
    ['family: "   "', { name: [{ family: '   ' }] }, 'Patient.name[0].family', 'structure'],
    ['given: [""]', { name: [{ family: 'X', given: [''] }] }, 'Patient.name[0].given[0]', 'structure'],
    ['name: []', { name: [] }, 'Patient.name', 'structure'],
    ['name: [{}]', { name: [{}] }, 'Patient.name[0]', 'structure'],
    ['maritalStatus: {}', { maritalStatus: {} }, 'Patient.maritalStatus', 'structure'],
    ['active: null', { active: null }, 'Patient.active', 'structure'],
    ['given: ["A", null] without _given', { name: [{ given: ['A', null] }] }, 'Patient.name[0].given[1]', 'structure'],
    ['extension: []', { extension: [] }, 'Patient.extension', 'structure'],
    ['a contained resource with gender "nope"', { contained: [{ resourceType: 'Patient', id: 'c1', gender: 'nope' }] }, 'Patient.contained[0].gender', 'code-invalid'],
  ];

  test.each(refused)('POST with %s is 400 pointing at the element, and writes nothing', async (_label, fields, expression, code) => {
    const before = await snapshotDatabase(t.app);
    const res = await write('POST', { resourceType: 'Patient', ...fields } as Patient);
    expect(res.statusCode).toBe(400);
    const found = issues(res);
    expect(found[0]).toMatchObject({ code, expression: [expression] });
    expect(found[0].diagnostics).toContain(expression);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test.each(refused)('PUT with %s is 400 too and leaves the resource as it was', async (_label, fields, expression) => {
    const res = await write('PUT', { ...existing, ...fields } as Patient);
    expect(res.statusCode).toBe(400);
    expect(issues(res)[0].expression).toEqual([expression]);
    const current = (await t.app.inject({ method: 'GET', url: `/fhir/R4/Patient/${existing.id}`, headers: admin.headers })).json() as Patient;
    expect(current.meta?.versionId).toBe('1');
  });

  test('the message names the allowed codes', async () => {
    const res = await write('POST', { resourceType: 'Patient', gender: 'bogus' } as unknown as Patient);
    expect(issues(res)[0].diagnostics).toBe('Patient.gender "bogus" is not a code of http://hl7.org/fhir/ValueSet/administrative-gender (one of: male, female, other, unknown)');
  });

  test('every problem is reported at once', async () => {
    const res = await write('POST', { resourceType: 'Patient', gender: 'bogus', name: [{ family: '' }], telecom: [] } as unknown as Patient);
    expect(issues(res).map((i) => i.expression?.[0]).sort()).toEqual(['Patient.gender', 'Patient.name[0].family', 'Patient.telecom']);
  });

  test('valid codes, and a null lined up with an extension in _given, are accepted', async () => {
    const res = await write('POST', {
      resourceType: 'Patient',
      gender: 'other',
      name: [{ use: 'official', family: 'Okay', given: ['A', null], _given: [null, { extension: [{ url: 'http://example.org/initial', valueString: 'B' }] }] }],
      telecom: [{ system: 'email', value: 'okay@example.com', use: 'work' }],
      address: [{ use: 'home', type: 'both', city: 'Oslo' }],
    } as unknown as Patient);
    expect(res.statusCode).toBe(201);
  });

  test('Medplum types are held to their own required bindings', async () => {
    const project = await t.app.inject({ method: 'POST', url: '/fhir/R4/Project', headers: { ...admin.headers, ...FHIR_JSON }, payload: { resourceType: 'Project', name: 'Features', features: ['bots', 'teleportation'] } });
    expect(project.statusCode).toBe(400);
    expect(issues(project)[0]).toMatchObject({ code: 'code-invalid', expression: ['Project.features[1]'] });
    const policy = await t.app.inject({
      method: 'POST',
      url: '/fhir/R4/AccessPolicy',
      headers: { ...admin.headers, ...FHIR_JSON },
      payload: { resourceType: 'AccessPolicy', name: 'Bad', resource: [{ resourceType: 'Patient', interaction: ['read', 'teleport'] }] },
    });
    expect(policy.statusCode).toBe(400);
    expect(issues(policy)[0]).toMatchObject({ code: 'code-invalid', expression: ['AccessPolicy.resource[0].interaction[1]'] });
  });

  describe('what the server answers keeps the same rules', () => {
    test('the CapabilityStatement has no empty array, object or string', async () => {
      const cs = (await t.app.inject({ method: 'GET', url: '/fhir/R4/metadata' })).json() as CapabilityStatement;
      expect(emptyValues(cs, 'CapabilityStatement')).toEqual([]);
      // Practitioner has no reference search parameter of its own: no searchInclude at all.
      expect(cs.rest?.[0].resource?.find((r) => r.type === 'Practitioner')).not.toHaveProperty('searchInclude');
    });

    test('_summary=count and empty searches and histories have no empty entry array', async () => {
      for (const url of ['/fhir/R4/Patient?_summary=count', '/fhir/R4/Patient?name=nobody-by-this-name', '/fhir/R4/Patient/_history?_since=2999-01-01T00:00:00Z']) {
        const res = await t.app.inject({ method: 'GET', url, headers: admin.headers });
        expect(res.statusCode).toBe(200);
        const bundle = res.json() as Bundle;
        expect(bundle).not.toHaveProperty('entry');
        expect(emptyValues(bundle, 'Bundle')).toEqual([]);
      }
      const count = (await t.app.inject({ method: 'GET', url: '/fhir/R4/Patient?_summary=count', headers: admin.headers })).json() as Bundle;
      expect(count.total).toBeGreaterThan(0);
    });
  });
});
