import type { Bundle, Patient, Practitioner, ProjectMembership, User } from '@medplum/fhirtypes';
import { TestClock } from '../helpers/app';
import { create } from '../helpers/fixtures';
import { useSignIn, useTestApp } from '../helpers/suite';
import { entryIds, issues, post } from '../helpers/fhir';

describe('FHIR search over HTTP', () => {
  const clock = new TestClock(new Date('2026-01-15T12:00:00.000Z'));
  const t = useTestApp({ clock });
  const admin = useSignIn(t);
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    const patients: Patient[] = [
      { resourceType: 'Patient', name: [{ family: 'Quillfeather', given: ['Hëlga'] }], birthDate: '1980-05-01', gender: 'female', active: true, telecom: [{ system: 'email', value: 'Helga@Example.com' }], identifier: [{ system: 'urn:mrn', value: 'A1' }] },
      { resourceType: 'Patient', name: [{ family: 'Quill', given: ['Bob'] }], birthDate: '1990-01-01', gender: 'male', active: false, telecom: [{ system: 'phone', value: '555-0100' }], identifier: [{ system: 'urn:other', value: 'A1' }] },
      { resourceType: 'Patient', name: [{ family: 'Zabini', given: ['Blaise'] }], birthDate: '2001-07', gender: 'male' },
    ];
    for (const p of patients) {
      clock.advance(60_000);
      const created = await post(t.app, admin.headers, p);
      ids[p.name?.[0].family as string] = created.id;
    }
  });

  const search = (query: string) => t.app.inject({ method: 'GET', url: `/fhir/R4/Patient?${query}`, headers: admin.headers });
  const searchByPost = (form: string) =>
    t.app.inject({ method: 'POST', url: '/fhir/R4/Patient/_search', headers: { ...admin.headers, 'content-type': 'application/x-www-form-urlencoded' }, payload: form });
  const found = async (query: string) => {
    const res = await search(query);
    expect({ query, status: res.statusCode, body: res.statusCode === 200 ? '' : res.body }).toEqual({ query, status: 200, body: '' });
    return entryIds(res)
      .map((ref) => Object.keys(ids).find((k) => `Patient/${ids[k]}` === ref))
      .sort();
  };

  test('string: prefix, case- and accent-insensitive; :exact; :contains; comma is OR', async () => {
    expect(await found('name=quillf')).toEqual(['Quillfeather']);
    expect(await found('name=QUILL')).toEqual(['Quill', 'Quillfeather']);
    expect(await found('given=helga')).toEqual(['Quillfeather']);
    expect(await found('name:exact=Quill')).toEqual(['Quill']);
    expect(await found('name:exact=quill')).toEqual([]);
    expect(await found('family:contains=abin')).toEqual(['Zabini']);
    expect(await found('family=zab,quillf')).toEqual(['Quillfeather', 'Zabini']);
    expect(await found('name=hëlga%20quill')).toEqual(['Quillfeather']);
    expect(await found('name=.*')).toEqual([]);
  });

  test('token: code, system|code, |code, emails case-insensitive, :not, booleans', async () => {
    expect(await found('identifier=A1')).toEqual(['Quill', 'Quillfeather']);
    expect(await found('identifier=urn:mrn|A1')).toEqual(['Quillfeather']);
    expect(await found('identifier=|A1')).toEqual([]);
    expect(await found('email=helga@example.com')).toEqual(['Quillfeather']);
    expect(await found('email=HELGA@EXAMPLE.COM')).toEqual(['Quillfeather']);
    expect(await found('telecom=phone|555-0100')).toEqual(['Quill']);
    expect(await found('gender=male')).toEqual(['Quill', 'Zabini']);
    expect(await found('gender:not=male')).toEqual(['Quillfeather']);
    expect(await found('active=false')).toEqual(['Quill']);
    expect(await found('email:missing=true')).toEqual(['Quill', 'Zabini']);
  });

  test('date: every prefix on birthdate and _lastUpdated', async () => {
    expect(await found('birthdate=1980')).toEqual(['Quillfeather']);
    expect(await found('birthdate=1980-05-01')).toEqual(['Quillfeather']);
    expect(await found('birthdate=lt1990')).toEqual(['Quillfeather']);
    expect(await found('birthdate=le1990')).toEqual(['Quill', 'Quillfeather']);
    expect(await found('birthdate=gt1990')).toEqual(['Zabini']);
    expect(await found('birthdate=ge1990')).toEqual(['Quill', 'Zabini']);
    expect(await found('birthdate=ne1990-01-01')).toEqual(['Quillfeather', 'Zabini']);
    expect(await found('birthdate=sa2001-06-30')).toEqual(['Zabini']);
    expect(await found('birthdate=eb2001-07-15')).toEqual(['Quill', 'Quillfeather']);
    expect(await found('birthdate=2001-07-15')).toEqual([]);
    expect(await found('_lastUpdated=gt2026-01-15T12:01:30Z')).toEqual(['Quill', 'Zabini']);
    expect(await found('_lastUpdated=le2026-01-15T12:02:00Z')).toEqual(['Quill', 'Quillfeather']);
    expect(await found('_lastUpdated=2026-01-15T12:02Z')).toEqual(['Quill']);
    expect(await found('_lastUpdated=ge2026-01-15T12:02:00Z&_lastUpdated=lt2026-01-15T12:03:00Z')).toEqual(['Quill']);
  });

  test('_id, and parameters combined (AND)', async () => {
    expect(await found(`_id=${ids.Zabini},${ids.Quill}`)).toEqual(['Quill', 'Zabini']);
    expect(await found('name=quill&gender=male')).toEqual(['Quill']);
  });

  test('_sort, _count, next/previous links that page through everything once, _total=accurate', async () => {
    const sorted = await search('_sort=-birthdate');
    expect(entryIds(sorted)).toEqual([ids.Zabini, ids.Quill, ids.Quillfeather].map((id) => `Patient/${id}`));
    expect(entryIds(await search('_sort=family'))).toEqual([ids.Quill, ids.Quillfeather, ids.Zabini].map((id) => `Patient/${id}`));

    const seen: string[] = [];
    let url: string | undefined = '/fhir/R4/Patient?_count=1&_sort=birthdate&_total=accurate';
    let pages = 0;
    let previous: string | undefined;
    while (url) {
      const res = await t.app.inject({ method: 'GET', url, headers: admin.headers });
      expect(res.statusCode).toBe(200);
      const bundle = res.json() as Bundle;
      expect(bundle.total).toBe(3);
      seen.push(...entryIds(res));
      const next = bundle.link?.find((l) => l.relation === 'next')?.url;
      previous = bundle.link?.find((l) => l.relation === 'previous')?.url;
      url = next?.replace('http://localhost:8103', '');
      pages += 1;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual([ids.Quillfeather, ids.Quill, ids.Zabini].map((id) => `Patient/${id}`));
    expect(previous).toBe('http://localhost:8103/fhir/R4/Patient?_sort=birthdate&_total=accurate&_count=1&_offset=1');
  });

  test('_include and _revinclude bring the referenced resources once', async () => {
    const practitioner = await post<Practitioner>(t.app, admin.headers, { resourceType: 'Practitioner', name: [{ family: 'Included' }] });
    const projectId = admin.project?.reference?.split('/')[1] as string;
    const membership = await post<ProjectMembership>(t.app, admin.headers, {
      resourceType: 'ProjectMembership',
      project: { reference: `Project/${projectId}` },
      user: { reference: `User/${(await create<User>(t.app, { resourceType: 'User', firstName: 'Some', lastName: 'One' })).id}` },
      profile: { reference: `Practitioner/${practitioner.id}` },
    });
    const inc = await t.app.inject({ method: 'GET', url: `/fhir/R4/ProjectMembership?_id=${membership.id}&_include=ProjectMembership:profile`, headers: admin.headers });
    expect(inc.statusCode).toBe(200);
    expect(entryIds(inc)).toEqual([`ProjectMembership/${membership.id}`]);
    expect(entryIds(inc, 'include')).toEqual([`Practitioner/${practitioner.id}`]);

    const rev = await t.app.inject({ method: 'GET', url: `/fhir/R4/Practitioner?name=included&_revinclude=ProjectMembership:profile`, headers: admin.headers });
    expect(entryIds(rev)).toEqual([`Practitioner/${practitioner.id}`]);
    expect(entryIds(rev, 'include')).toEqual([`ProjectMembership/${membership.id}`]);
    expect((rev.json() as Bundle).entry?.[0].fullUrl).toBe(`http://localhost:8103/fhir/R4/Practitioner/${practitioner.id}`);

    const byRef = await t.app.inject({ method: 'GET', url: `/fhir/R4/ProjectMembership?profile=Practitioner/${practitioner.id}`, headers: admin.headers });
    expect(entryIds(byRef)).toEqual([`ProjectMembership/${membership.id}`]);
    const byId = await t.app.inject({ method: 'GET', url: `/fhir/R4/ProjectMembership?profile=${practitioner.id}&project=${projectId}`, headers: admin.headers });
    expect(entryIds(byId)).toEqual([`ProjectMembership/${membership.id}`]);

    const wrong = await t.app.inject({ method: 'GET', url: '/fhir/R4/Practitioner?_include=ProjectMembership:profile', headers: admin.headers });
    expect(wrong.statusCode).toBe(400);
    expect(issues(wrong)[0].expression).toEqual(['_include']);
  });

  test('_elements answers only the elements asked for, tagged SUBSETTED', async () => {
    const res = await search(`_id=${ids.Zabini}&_elements=gender`);
    const resource = (res.json() as Bundle<Patient>).entry?.[0].resource;
    expect(resource).toMatchObject({ resourceType: 'Patient', id: ids.Zabini, gender: 'male' });
    expect(resource?.name).toBeUndefined();
    expect(resource?.meta?.tag).toEqual([{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' }]);
  });

  test('POST _search takes form parameters', async () => {
    const res = await searchByPost('name=zab');
    expect(res.statusCode).toBe(200);
    expect(entryIds(res)).toEqual([`Patient/${ids.Zabini}`]);
  });

  test('unknown parameters, malformed values and injection attempts are 400 naming the parameter', async () => {
    for (const [query, expression] of [
      ['nickname=x', 'nickname'],
      ['email[$ne]=x', 'email[$ne]'],
      ['birthdate=yesterday', 'birthdate'],
      ['_count=abc', '_count'],
      ['_sort=nickname', '_sort'],
      ['name:sounds-like=x', 'name'],
      ['active=maybe', 'active'],
    ]) {
      const res = await search(query);
      expect({ query, status: res.statusCode }).toEqual({ query, status: 400 });
      expect({ query, expression: issues(res)[0].expression?.[0] }).toEqual({ query, expression });
    }
    const form = await searchByPost('email[$ne]=x');
    expect(form.statusCode).toBe(400);
  });
});
