import type { Bundle, Patient, RelatedPerson } from '@medplum/fhirtypes';
import { hiddenFieldRead, parameterPaths } from '../../src/access/search-paths';
import { useTestApp } from '../helpers/suite';
import { make, makeProject } from '../helpers/access';
import { Recorder, signedInMember, type Answer, type Member } from '../helpers/access';

/**
 * A field an access policy hides can neither be read nor probed: a search that filters or sorts
 * on a parameter reading it, or follows _include / _revinclude through it, is refused (400 naming
 * the parameter); _elements cannot bring it back; included resources and history are redacted.
 */
describe('hidden fields cannot be searched', () => {
  const t = useTestApp();
  let rec: Recorder;
  let project: string;
  let alice: Patient & { id: string };
  let related: RelatedPerson & { id: string };
  const m: Record<string, Member> = {};

  beforeAll(async () => {
    rec = new Recorder(t.app);
    project = await makeProject(t.app, 'Hidden');
    const doctor = (await make(t.app, { resourceType: 'Practitioner', name: [{ family: 'Who' }] }, project)).id;
    alice = await make<Patient>(
      t.app,
      { resourceType: 'Patient', birthDate: '1990-02-03', name: [{ family: 'Liddell', given: ['Alice'] }], telecom: [{ system: 'email', value: 'alice@example.com' }] },
      project,
    );
    related = await make<RelatedPerson>(t.app, { resourceType: 'RelatedPerson', patient: { reference: `Patient/${alice.id}` }, name: [{ family: 'Hatter' }] }, project);
    const profile = `Practitioner/${doctor}`;
    m.hider = await signedInMember(t.app, project, {
      key: 'hs-hider',
      profile,
      policy: [{ resourceType: 'Patient', hiddenFields: ['birthDate', 'name.family'] }, { resourceType: 'RelatedPerson' }],
    });
    m.linkHider = await signedInMember(t.app, project, { key: 'hs-link', profile, policy: [{ resourceType: 'Patient' }, { resourceType: 'RelatedPerson', hiddenFields: ['patient'] }] });
    m.telecomHider = await signedInMember(t.app, project, { key: 'hs-telecom', profile, policy: [{ resourceType: 'Patient', hiddenFields: ['telecom'] }] });
    m.open = await signedInMember(t.app, project, { key: 'hs-open', profile, policy: [{ resourceType: 'Patient' }] });
  });

  const search = (who: Member, query: string): Promise<Answer> => rec.call(who, 'GET', query);
  const expectRefused = (res: Answer, expression: string, mentions: RegExp) => {
    expect(res.status).toBe(400);
    expect(res.json.resourceType).toBe('OperationOutcome');
    expect(res.json.issue[0].expression).toEqual([expression]);
    expect(res.json.issue[0].diagnostics).toMatch(mentions);
    expect(res.body).not.toContain('1990');
  };
  const ids = (res: Answer): string[] => ((res.json as Bundle).entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);

  test('the probe Patient?_id=X&birthdate=... is refused, whatever the value', async () => {
    for (const value of ['1990-02-03', '1991-01-01', 'ge1990', 'lt2000-01-01']) {
      expectRefused(await search(m.hider, `Patient?_id=${alice.id}&birthdate=${value}`), 'birthdate', /birthdate.*Patient\.birthDate.*hides/);
    }
    expectRefused(await search(m.hider, `Patient?birthdate:missing=false`), 'birthdate', /birthDate/);
    // Control: a member from whom nothing is hidden gets the answer.
    expect(ids(await search(m.open, `Patient?_id=${alice.id}&birthdate=1990-02-03`))).toEqual([`Patient/${alice.id}`]);
  });

  test('the same through POST _search and with _total / _summary=count', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/fhir/R4/Patient/_search',
      headers: { ...m.hider.session.headers, 'content-type': 'application/x-www-form-urlencoded' },
      payload: `_id=${alice.id}&birthdate=1990-02-03`,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().issue[0].expression).toEqual(['birthdate']);
    expectRefused(await search(m.hider, `Patient?birthdate=1990-02-03&_summary=count`), 'birthdate', /birthDate/);
    expectRefused(await search(m.hider, `Patient?birthdate=1990-02-03&_total=accurate`), 'birthdate', /birthDate/);
  });

  test('a nested hidden field: family and name (whose index holds the family) are refused, given is not', async () => {
    expectRefused(await search(m.hider, `Patient?family=Lidd`), 'family', /name\.family/);
    expectRefused(await search(m.hider, `Patient?name=Lidd`), 'name', /name\.family/);
    expectRefused(await search(m.hider, `Patient?name:exact=Alice Liddell`), 'name', /name\.family/);
    expect(ids(await search(m.hider, `Patient?given=Alice`))).toEqual([`Patient/${alice.id}`]);
  });

  test('a hidden telecom refuses email, phone and telecom', async () => {
    for (const code of ['email', 'phone', 'telecom']) {
      expectRefused(await search(m.telecomHider, `Patient?${code}=alice@example.com`), code, /telecom/);
    }
  });

  test('sorting on a hidden field is refused', async () => {
    expectRefused(await search(m.hider, `Patient?_sort=birthdate`), '_sort', /_sort=birthdate/);
    expectRefused(await search(m.hider, `Patient?_sort=_lastUpdated,-birthdate`), '_sort', /birthDate/);
    expectRefused(await search(m.hider, `Patient?_sort=family`), '_sort', /name\.family/);
    expect((await search(m.hider, `Patient?_sort=given`)).status).toBe(200);
  });

  test('_include and _revinclude through a hidden reference are refused', async () => {
    expectRefused(await search(m.linkHider, `RelatedPerson?_include=RelatedPerson:patient`), '_include', /RelatedPerson\.patient/);
    expectRefused(await search(m.linkHider, `Patient?_revinclude=RelatedPerson:patient`), '_revinclude', /RelatedPerson\.patient/);
    expectRefused(await search(m.linkHider, `RelatedPerson?patient=Patient/${alice.id}`), 'patient', /RelatedPerson\.patient/);
  });

  test('included resources are redacted, and _elements naming a hidden field does not bring it back', async () => {
    const included = await search(m.hider, `RelatedPerson?_id=${related.id}&_include=RelatedPerson:patient`);
    expect(included.status).toBe(200);
    expect(ids(included)).toEqual([`RelatedPerson/${related.id}`, `Patient/${alice.id}`]);
    expect(included.body).not.toMatch(/1990|Liddell|birthDate/);
    const elements = await search(m.hider, `Patient?_id=${alice.id}&_elements=birthDate,name`);
    expect(elements.status).toBe(200);
    const patient = (elements.json as Bundle<Patient>).entry?.[0].resource as Patient;
    expect(patient.birthDate).toBeUndefined();
    expect(patient.name).toEqual([{ given: ['Alice'] }]);
    expect(elements.body).not.toMatch(/1990|Liddell/);
  });

  test('history and reads are redacted; chained and _filter searches are not supported at all', async () => {
    for (const url of [`Patient/${alice.id}`, `Patient/${alice.id}/_history`, 'Patient/_history', `Patient/${alice.id}/_history/1`]) {
      const res = await search(m.hider, url);
      expect([url, res.status]).toEqual([url, 200]);
      expect(res.body).not.toMatch(/1990|Liddell/);
    }
    expect((await search(m.hider, `RelatedPerson?patient.birthdate=1990-02-03`)).status).toBe(400);
    expect((await search(m.hider, `Patient?_filter=birthdate eq 1990-02-03`)).status).toBe(400);
    expect((await search(m.hider, `Patient?_has:RelatedPerson:patient:name=Hatter`)).status).toBe(400);
  });

  test('parameter paths come from the FHIRPath expressions', () => {
    expect(parameterPaths('Patient', 'email')).toEqual(['telecom', 'telecom.system']);
    expect(parameterPaths('ProjectMembership', 'access-policy')).toEqual(['accessPolicy', 'access.policy']);
    expect(parameterPaths('Patient', '_lastUpdated')).toEqual(['meta.lastUpdated']);
    expect(hiddenFieldRead('Patient', 'given', ['name.family'])).toBeUndefined();
    expect(hiddenFieldRead('Patient', 'name', ['name.family'])).toBe('name.family');
    expect(hiddenFieldRead('Patient', 'family', ['name'])).toBe('name');
    expect(hiddenFieldRead('Patient', '_lastUpdated', ['meta'])).toBe('meta');
  });
});
