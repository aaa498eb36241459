import type { Bundle, Patient, Practitioner, Resource } from '@medplum/fhirtypes';
import type { SignedIn } from '../helpers/auth';
import { form } from '../helpers/auth';
import { TestClock } from '../helpers/app';
import { createPolicyMember, createProjectAdmin, FHIR_JSON, issues, post, type ProjectAdmin } from '../helpers/fhir';
import { uniqueEmail } from '../helpers/fixtures';
import { useSignIn, useTestApp } from '../helpers/suite';

const ids = (bundle: Bundle): string[] => (bundle.entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);

describe('system level: search of several types and the history of all', () => {
  const clock = new TestClock(new Date('2026-03-01T08:00:00.000Z'));
  const t = useTestApp({ clock });
  const root = useSignIn(t);
  let admin: SignedIn;
  let projectId: string;
  let other: ProjectAdmin;
  let member: SignedIn;
  const mine: Record<string, Resource & { id: string }> = {};
  let theirs: Patient & { id: string };
  let since: string;

  beforeAll(async () => {
    const owner = await createProjectAdmin(t.app, 'Mine', uniqueEmail('mine'));
    admin = owner.session;
    projectId = owner.projectId;
    other = await createProjectAdmin(t.app, 'Other', uniqueEmail('other'));
    clock.advance(60_000);
    since = clock.now().toISOString();
    clock.advance(1000);
    mine.patient = await post<Patient>(t.app, admin.headers, { resourceType: 'Patient', name: [{ family: 'Syslevel' }], birthDate: '1990-01-01' });
    clock.advance(1000);
    mine.practitioner = await post<Practitioner>(t.app, admin.headers, { resourceType: 'Practitioner', name: [{ family: 'Syslevel' }] });
    clock.advance(1000);
    mine.hidden = await post<Patient>(t.app, admin.headers, { resourceType: 'Patient', name: [{ family: 'Syslevel', given: ['Private'] }] });
    clock.advance(1000);
    theirs = await post<Patient>(t.app, other.session.headers, { resourceType: 'Patient', name: [{ family: 'Syslevel' }] });
    clock.advance(1000);
    // A member who may search Patients named Public only, never their birthDate, and nothing else.
    member = await createPolicyMember(t.app, projectId, uniqueEmail('member'), {
      resourceType: 'AccessPolicy',
      name: 'Public patients',
      resource: [{ resourceType: 'Patient', criteria: 'Patient?given=Public', hiddenFields: ['birthDate'], interaction: ['read', 'search', 'history', 'vread'] }],
    });
    clock.advance(1000);
    mine.visible = await post<Patient>(t.app, admin.headers, { resourceType: 'Patient', name: [{ family: 'Syslevel', given: ['Public'] }], birthDate: '1980-05-05' });
  });

  const get = (url: string, headers: Record<string, string> = admin.headers as Record<string, string>) => t.app.inject({ method: 'GET', url: url.replace('http://localhost:8103', ''), headers });

  test('GET /fhir/R4?_type=Patient,Practitioner&name= finds both types in the caller\'s project, newest first', async () => {
    const res = await get('/fhir/R4?_type=Patient,Practitioner&name=syslevel');
    expect(res.statusCode).toBe(200);
    const bundle = res.json() as Bundle;
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 4 });
    expect(ids(bundle)).toEqual([`Patient/${mine.visible.id}`, `Patient/${mine.hidden.id}`, `Practitioner/${mine.practitioner.id}`, `Patient/${mine.patient.id}`]);
    expect(bundle.entry?.[0].fullUrl).toBe(`http://localhost:8103/fhir/R4/Patient/${mine.visible.id}`);
    expect(bundle.link?.find((l) => l.relation === 'self')?.url).toBe('http://localhost:8103/fhir/R4?_type=Patient%2CPractitioner&name=syslevel&_count=20');
    // The other project's administrator finds only theirs; the super administrator both.
    expect(ids((await get('/fhir/R4?_type=Patient,Practitioner&name=syslevel', other.session.headers)).json() as Bundle)).toEqual([`Patient/${theirs.id}`]);
    expect(ids((await get('/fhir/R4?_type=Patient,Practitioner&name=syslevel', root.headers)).json() as Bundle)).toEqual(expect.arrayContaining([`Patient/${theirs.id}`, `Patient/${mine.patient.id}`]));
  });

  test('paging walks the merged list without skipping or repeating', async () => {
    const seen: string[] = [];
    let url: string | undefined = '/fhir/R4?_type=Patient,Practitioner&name=syslevel&_count=1';
    while (url) {
      const bundle = (await get(url)).json() as Bundle;
      seen.push(...ids(bundle));
      url = bundle.link?.find((l) => l.relation === 'next')?.url;
    }
    expect(seen).toEqual(ids((await get('/fhir/R4?_type=Patient,Practitioner&name=syslevel')).json() as Bundle));
    const ascending = ids((await get('/fhir/R4?_type=Patient,Practitioner&name=syslevel&_sort=_lastUpdated')).json() as Bundle);
    expect(ascending).toEqual([...seen].reverse());
  });

  test('_summary=count counts across the types; POST /fhir/R4/_search works like GET', async () => {
    const count = (await get('/fhir/R4?_type=Patient,Practitioner&name=syslevel&_summary=count')).json() as Bundle;
    expect(count.total).toBe(4);
    expect(count).not.toHaveProperty('entry');
    const posted = await t.app.inject({ method: 'POST', url: '/fhir/R4/_search', headers: { ...admin.headers, ...form({ _type: 'Practitioner', name: 'syslevel' }).headers }, payload: form({ _type: 'Practitioner', name: 'syslevel' }).payload });
    expect(posted.statusCode).toBe(200);
    expect(ids(posted.json() as Bundle)).toEqual([`Practitioner/${mine.practitioner.id}`]);
  });

  test('a member sees, without _type, only the types and resources their policy allows, redacted', async () => {
    const bundle = (await get('/fhir/R4?name=syslevel', member.headers)).json() as Bundle<Patient>;
    expect(ids(bundle)).toEqual([`Patient/${mine.visible.id}`]);
    expect(bundle.entry?.[0].resource?.birthDate).toBeUndefined();
    // A type in _type the member may not search is 403, as a search of that type is.
    const refused = await get('/fhir/R4?_type=Patient,Practitioner&name=syslevel', member.headers);
    expect(refused.statusCode).toBe(403);
    expect((await get('/fhir/R4/Practitioner?name=syslevel', member.headers)).statusCode).toBe(403);
    // A hidden field cannot be searched on, as in a search of the type.
    const hidden = await get('/fhir/R4?_type=Patient&birthdate=1980-05-05', member.headers);
    expect(hidden.statusCode).toBe(400);
    expect(issues(hidden)[0].expression).toEqual(['birthdate']);
  });

  test('parameters must hold for every type; _include, unknown types and other sorts are 400', async () => {
    for (const [query, expression] of [
      ['_type=Patient,Practitioner&birthdate=1990-01-01', 'birthdate'],
      ['_type=Patient,Observation', '_type'],
      ['_type=Patient&_include=Patient:organization', '_include'],
      ['_type=Patient,Practitioner&_sort=name', '_sort'],
      ['_type=Patient&nonsense=1', 'nonsense'],
    ]) {
      const res = await get(`/fhir/R4?${query}`);
      expect({ query, status: res.statusCode }).toEqual({ query, status: 400 });
      expect(issues(res)[0].expression).toEqual([expression]);
    }
    expect((await t.app.inject({ method: 'GET', url: '/fhir/R4?_type=Patient' })).statusCode).toBe(401);
  });

  test('GET /fhir/R4/_history: every type, newest first, confined and redacted like each type\'s history', async () => {
    clock.advance(1000);
    await t.app.inject({ method: 'DELETE', url: `/fhir/R4/Patient/${mine.hidden.id}`, headers: admin.headers });
    const bundle = (await get(`/fhir/R4/_history?_since=${since}`)).json() as Bundle;
    expect(bundle.type).toBe('history');
    const versions = (bundle.entry ?? []).map((e) => `${e.request?.method} ${e.fullUrl?.replace('http://localhost:8103/fhir/R4/', '')}`);
    expect(versions).toEqual(expect.arrayContaining([`DELETE Patient/${mine.hidden.id}`, `POST Patient/${mine.visible.id}`, `POST Practitioner/${mine.practitioner.id}`, `POST Patient/${mine.patient.id}`]));
    expect(versions.indexOf(`DELETE Patient/${mine.hidden.id}`)).toBeLessThan(versions.indexOf(`POST Patient/${mine.visible.id}`));
    expect(versions.indexOf(`POST Practitioner/${mine.practitioner.id}`)).toBeLessThan(versions.indexOf(`POST Patient/${mine.patient.id}`));
    // The super administrator sees both projects; each administrator only their own.
    expect(versions).not.toContain(`POST Patient/${theirs.id}`);
    const rootHistory = ((await get(`/fhir/R4/_history?_since=${since}`, root.headers)).json() as Bundle).entry ?? [];
    expect(rootHistory.map((e) => e.fullUrl)).toEqual(expect.arrayContaining([`http://localhost:8103/fhir/R4/Patient/${theirs.id}`, `http://localhost:8103/fhir/R4/Patient/${mine.patient.id}`]));
    const theirHistory = ((await get(`/fhir/R4/_history?_since=${since}`, other.session.headers)).json() as Bundle).entry ?? [];
    expect(theirHistory.map((e) => e.fullUrl)).not.toContain(`http://localhost:8103/fhir/R4/Patient/${mine.patient.id}`);
    expect(theirHistory.map((e) => e.fullUrl)).toContain(`http://localhost:8103/fhir/R4/Patient/${theirs.id}`);
    // The member: only the Patient its policy lets it see, without birthDate.
    const memberHistory = ((await get(`/fhir/R4/_history?_since=${since}`, member.headers)).json() as Bundle<Patient>).entry ?? [];
    expect(memberHistory.map((e) => e.fullUrl)).toEqual([`http://localhost:8103/fhir/R4/Patient/${mine.visible.id}`]);
    expect(memberHistory[0].resource?.birthDate).toBeUndefined();
  });

  test('a deletion\'s history entry says what the DELETE answered', async () => {
    const victim = await post<Patient>(t.app, admin.headers, { resourceType: 'Patient', name: [{ family: 'Deleted' }] });
    const deleted = await t.app.inject({ method: 'DELETE', url: `/fhir/R4/Patient/${victim.id}`, headers: admin.headers });
    const history = (await get(`/fhir/R4/Patient/${victim.id}/_history`)).json() as Bundle;
    expect(history.entry?.[0].request?.method).toBe('DELETE');
    expect(history.entry?.[0].response?.status).toBe(`${deleted.statusCode} OK`);
    expect(deleted.statusCode).toBe(200);
  });

  test('system history pages through versions of several types sharing one timestamp', async () => {
    clock.advance(60_000);
    const at = clock.now().toISOString();
    const written: string[] = [];
    for (let i = 0; i < 3; i++) {
      written.push(`Patient/${(await post<Patient>(t.app, admin.headers, { resourceType: 'Patient', name: [{ family: `Tie${i}` }] })).id}`);
      written.push(`Practitioner/${(await post<Practitioner>(t.app, admin.headers, { resourceType: 'Practitioner', name: [{ family: `Tie${i}` }] })).id}`);
    }
    const seen: string[] = [];
    let url: string | undefined = `/fhir/R4/_history?_since=${at}&_count=4`;
    let pages = 0;
    while (url) {
      const res = await get(url);
      expect(res.statusCode).toBe(200);
      const bundle = res.json() as Bundle;
      seen.push(...(bundle.entry ?? []).map((e) => (e.fullUrl as string).replace('http://localhost:8103/fhir/R4/', '')));
      url = bundle.link?.find((l) => l.relation === 'next')?.url;
      pages += 1;
    }
    expect(pages).toBe(2);
    expect([...seen].sort()).toEqual([...written].sort());
    expect((await get('/fhir/R4/_history?_cursor=bogus')).statusCode).toBe(400);
    const typeCursor = ((await get(`/fhir/R4/Patient/_history?_since=${at}&_count=1`)).json() as Bundle).link?.find((l) => l.relation === 'next')?.url as string;
    const mixed = await get(`/fhir/R4/_history?${typeCursor.split('?')[1]}`);
    expect(mixed.statusCode).toBe(400);
    expect(issues(mixed)[0].expression).toEqual(['_cursor']);
  });

  test('the CapabilityStatement declares the system interactions', async () => {
    const cs = (await t.app.inject({ method: 'GET', url: '/fhir/R4/metadata', headers: FHIR_JSON })).json() as { rest: { interaction?: { code: string }[] }[] };
    expect(cs.rest[0].interaction?.map((i) => i.code)).toEqual(expect.arrayContaining(['search-system', 'history-system']));
  });
});
