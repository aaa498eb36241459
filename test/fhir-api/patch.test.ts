import type { Patient } from '@medplum/fhirtypes';
import type { ResourceChange } from '../../src/fhir/changes';
import { snapshotDatabase } from '../helpers/app';
import { make, makeProject, signedInMember, type Member } from '../helpers/access';
import { issues, post } from '../helpers/fhir';
import { useSignIn, useTestApp } from '../helpers/suite';

const JSON_PATCH = { 'content-type': 'application/json-patch+json' };

describe('PATCH with JSON Patch', () => {
  const changes: ResourceChange[] = [];
  const t = useTestApp({ changeListeners: [async (change) => void changes.push(change)] });
  const admin = useSignIn(t);

  const patch = (url: string, body: unknown, headers: Record<string, string> = {}, who: { headers: Record<string, string> } = admin) =>
    t.app.inject({ method: 'PATCH', url, headers: { ...who.headers, ...JSON_PATCH, ...headers }, payload: JSON.stringify(body) });

  test('add, replace, remove, copy, move and test apply in order; the answer is the new version', async () => {
    const created = await post<Patient>(t.app, admin.headers, { resourceType: 'Patient', name: [{ family: 'Before', given: ['Ada'] }], gender: 'female' });
    changes.length = 0;
    const res = await patch(`/fhir/R4/Patient/${created.id}`, [
      { op: 'test', path: '/name/0/family', value: 'Before' },
      { op: 'replace', path: '/name/0/family', value: 'After' },
      { op: 'add', path: '/name/0/given/-', value: 'Byron' },
      { op: 'add', path: '/telecom', value: [{ system: 'email', value: 'ada@example.com' }] },
      { op: 'copy', from: '/name/0', path: '/name/1' },
      { op: 'add', path: '/name/1/suffix', value: [] },
      { op: 'move', from: '/name/1/given/1', path: '/name/1/suffix/0' },
      { op: 'remove', path: '/gender' },
      { op: 'test', path: '/id', value: created.id },
    ]);
    expect(res.statusCode).toBe(200);
    expect(res.headers.etag).toBe('W/"2"');
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    const body = res.json() as Patient;
    expect(body.name).toEqual([
      { family: 'After', given: ['Ada', 'Byron'] },
      { family: 'After', given: ['Ada'], suffix: ['Byron'] },
    ]);
    expect(body.telecom).toEqual([{ system: 'email', value: 'ada@example.com' }]);
    expect(body.gender).toBeUndefined();
    expect(body.meta?.versionId).toBe('2');
    expect(changes.map((c) => `${c.method} ${c.operation}`)).toEqual(['PUT patch']);
  });

  test('If-Match: the current version applies, another is 412; a failing test is 422; neither writes', async () => {
    const created = await post<Patient>(t.app, admin.headers, { resourceType: 'Patient', active: true });
    const url = `/fhir/R4/Patient/${created.id}`;
    const before = await snapshotDatabase(t.app);
    const stale = await patch(url, [{ op: 'replace', path: '/active', value: false }], { 'if-match': 'W/"3"' });
    expect(stale.statusCode).toBe(412);
    expect(issues(stale)[0].expression).toEqual(['If-Match']);
    const failing = await patch(url, [{ op: 'replace', path: '/active', value: false }, { op: 'test', path: '/active', value: true }]);
    expect(failing.statusCode).toBe(422);
    expect(issues(failing)[0]).toMatchObject({ code: 'processing', expression: ['patch[1].path'] });
    const missing = await patch(url, [{ op: 'remove', path: '/birthDate' }]);
    expect(missing.statusCode).toBe(422);
    expect(await snapshotDatabase(t.app)).toEqual(before);
    const ok = await patch(url, [{ op: 'replace', path: '/active', value: false }], { 'if-match': 'W/"1"' });
    expect(ok.statusCode).toBe(200);
    expect((ok.json() as Patient).active).toBe(false);
  });

  test('id, meta and resourceType cannot be patched (400 naming the element); malformed patches are 400; nothing is written', async () => {
    const created = await post<Patient>(t.app, admin.headers, { resourceType: 'Patient' });
    const url = `/fhir/R4/Patient/${created.id}`;
    const before = await snapshotDatabase(t.app);
    const cases: [unknown, string][] = [
      [[{ op: 'replace', path: '/id', value: 'other' }], 'Patient.id'],
      [[{ op: 'replace', path: '/meta/versionId', value: '9' }], 'Patient.meta'],
      [[{ op: 'add', path: '/meta/project', value: 'elsewhere' }], 'Patient.meta'],
      [[{ op: 'remove', path: '/resourceType' }], 'Patient.resourceType'],
      [[{ op: 'move', from: '/meta', path: '/text' }], 'Patient.meta'],
      [[{ op: 'replace', path: '', value: { resourceType: 'Patient' } }], 'Patient'],
      [[{ op: 'frobnicate', path: '/active' }], 'patch[0].op'],
      [[{ op: 'add', path: 'active', value: true }], 'patch[0].path'],
      [[{ op: 'add', path: '/active' }], 'patch[0].value'],
      [[{ op: 'add', path: '/__proto__/polluted', value: true }], 'patch[0].path'],
    ];
    for (const [body, expression] of cases) {
      const res = await patch(url, body);
      expect([res.statusCode, issues(res)[0].expression]).toEqual([400, [expression]]);
    }
    expect((await patch(url, { op: 'add', path: '/active', value: true })).statusCode).toBe(400);
    expect((await patch(url, [])).statusCode).toBe(400);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // The result is validated like any update.
    const invalid = await patch(url, [{ op: 'add', path: '/birthDate', value: 'not a date' }]);
    expect(invalid.statusCode).toBe(400);
    expect(issues(invalid)[0].expression?.[0]).toMatch(/^Patient\.birthDate/);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('only JSON Patch is taken (415 otherwise); an unknown resource is 404, a deleted one 410', async () => {
    const created = await post<Patient>(t.app, admin.headers, { resourceType: 'Patient' });
    const fhirJson = await t.app.inject({ method: 'PATCH', url: `/fhir/R4/Patient/${created.id}`, headers: { ...admin.headers, 'content-type': 'application/fhir+json' }, payload: { resourceType: 'Parameters' } });
    expect(fhirJson.statusCode).toBe(415);
    expect((await patch('/fhir/R4/Patient/nobody', [{ op: 'add', path: '/active', value: true }])).statusCode).toBe(404);
    await t.app.inject({ method: 'DELETE', url: `/fhir/R4/Patient/${created.id}`, headers: admin.headers });
    expect((await patch(`/fhir/R4/Patient/${created.id}`, [{ op: 'add', path: '/active', value: true }])).statusCode).toBe(410);
    expect((await t.app.inject({ method: 'PATCH', url: `/fhir/R4/Patient/${created.id}`, headers: JSON_PATCH, payload: '[]' })).statusCode).toBe(401);
  });

  describe('with an access policy', () => {
    let project: string;
    let hider: Member;
    let reader: Member;
    let secret: Patient & { id: string };
    beforeAll(async () => {
      project = await makeProject(t.app, 'Patchers');
      const doctor = (await make(t.app, { resourceType: 'Practitioner' }, project)).id;
      hider = await signedInMember(t.app, project, { key: 'patch-hider', profile: `Practitioner/${doctor}`, policy: [{ resourceType: 'Patient', hiddenFields: ['birthDate'], readonlyFields: ['gender'] }] });
      reader = await signedInMember(t.app, project, { key: 'patch-reader', profile: `Practitioner/${doctor}`, policy: [{ resourceType: 'Patient', readonly: true }] });
      secret = await make<Patient>(t.app, { resourceType: 'Patient', birthDate: '1961-04-12', gender: 'male', active: true }, project);
    });

    test('a hidden field cannot be read through test or copy, nor erased; a read-only one cannot be changed', async () => {
      const url = `/fhir/R4/Patient/${secret.id}`;
      const before = await snapshotDatabase(t.app);
      // The stored value IS 1961-04-12, but the caller's view has no birthDate: the test fails.
      const probe = await patch(url, [{ op: 'test', path: '/birthDate', value: '1961-04-12' }], {}, hider.session);
      expect(probe.statusCode).toBe(422);
      expect((await patch(url, [{ op: 'copy', from: '/birthDate', path: '/text' }], {}, hider.session)).statusCode).toBe(422);
      const readonly = await patch(url, [{ op: 'replace', path: '/gender', value: 'female' }], {}, hider.session);
      expect(readonly.statusCode).toBe(403);
      expect(issues(readonly)[0].expression).toEqual(['Patient.gender']);
      expect((await patch(url, [{ op: 'replace', path: '/active', value: false }], {}, reader.session)).statusCode).toBe(403);
      expect(await snapshotDatabase(t.app)).toEqual(before);

      const allowed = await patch(url, [{ op: 'replace', path: '/active', value: false }, { op: 'add', path: '/birthDate', value: '2000-01-01' }], {}, hider.session);
      expect(allowed.statusCode).toBe(200);
      expect((allowed.json() as Patient).birthDate).toBeUndefined();
      const stored = await t.app.inject({ method: 'GET', url, headers: admin.headers });
      expect(stored.json()).toMatchObject({ birthDate: '1961-04-12', active: false, gender: 'male' });
    });
  });
});
