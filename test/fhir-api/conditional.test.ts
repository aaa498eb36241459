import type { Bundle, Patient } from '@medplum/fhirtypes';
import { snapshotDatabase } from '../helpers/app';
import { make, makeProject, signedInMember, type Member } from '../helpers/access';
import { FHIR_JSON, issues, post } from '../helpers/fhir';
import { useSignIn, useTestApp } from '../helpers/suite';

const SYSTEM = 'http://example.org/mrn';

/** The text of an informational OperationOutcome's first issue. */
const outcomeText = (res: { json(): unknown }): string | undefined => (res.json() as { issue?: { details?: { text?: string } }[] }).issue?.[0]?.details?.text;

describe('conditional create, update, delete and read', () => {
  const t = useTestApp();
  const admin = useSignIn(t);

  const inject = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown, headers: Record<string, string> = {}, who: { headers: Record<string, string> } = admin) =>
    t.app.inject({ method, url, headers: { ...who.headers, ...(payload !== undefined ? FHIR_JSON : {}), ...headers }, payload: payload as string });
  const count = async (query: string): Promise<number> => ((await inject('GET', `/fhir/R4/Patient?${query}&_summary=count`)).json() as Bundle).total as number;
  const patient = (value: string, extra: Partial<Patient> = {}): Patient => ({ resourceType: 'Patient', identifier: [{ system: SYSTEM, value }], ...extra });

  describe('create with If-None-Exist', () => {
    test('no match creates (201), one match answers it (200) and writes nothing, several are 412', async () => {
      const first = await inject('POST', '/fhir/R4/Patient', patient('c-1', { name: [{ family: 'First' }] }), { 'if-none-exist': `identifier=${SYSTEM}|c-1` });
      expect(first.statusCode).toBe(201);
      const created = first.json() as Patient;
      expect(first.headers.location).toBe(`http://localhost:8103/fhir/R4/Patient/${created.id}/_history/1`);
      expect(first.headers.etag).toBe('W/"1"');

      const before = await snapshotDatabase(t.app);
      const again = await inject('POST', '/fhir/R4/Patient', patient('c-1', { name: [{ family: 'Second' }] }), { 'if-none-exist': `identifier=${SYSTEM}|c-1` });
      expect(again.statusCode).toBe(200);
      expect(again.json()).toEqual(created);
      expect(again.headers.etag).toBe('W/"1"');
      expect(await count(`identifier=${SYSTEM}|c-1`)).toBe(1);

      await post(t.app, admin.headers, patient('c-2'));
      await post(t.app, admin.headers, patient('c-2'));
      const middle = await snapshotDatabase(t.app);
      const several = await inject('POST', '/fhir/R4/Patient', patient('c-2'), { 'if-none-exist': `identifier=${SYSTEM}|c-2` });
      expect(several.statusCode).toBe(412);
      expect(issues(several)[0].expression).toEqual(['If-None-Exist']);
      expect(await snapshotDatabase(t.app)).toEqual(middle);
      expect(Object.keys(before)).toEqual(Object.keys(middle));
    });

    test('the header may name the type and a leading ?; the criteria are strict and select resources, not pages', async () => {
      expect((await inject('POST', '/fhir/R4/Patient', patient('c-3'), { 'if-none-exist': `Patient?identifier=${SYSTEM}|c-3` })).statusCode).toBe(201);
      expect((await inject('POST', '/fhir/R4/Patient', patient('c-3'), { 'if-none-exist': `?identifier=${SYSTEM}|c-3` })).statusCode).toBe(200);
      const before = await snapshotDatabase(t.app);
      const empty = await inject('POST', '/fhir/R4/Patient', patient('c-4'), { 'if-none-exist': '' });
      expect(empty.statusCode).toBe(400);
      expect(issues(empty)[0].expression).toEqual(['If-None-Exist']);
      expect((await inject('POST', '/fhir/R4/Patient', patient('c-4'), { 'if-none-exist': 'identifier=x&_count=1' })).statusCode).toBe(400);
      // An unknown parameter is refused even when the client asks for lenient handling: ignoring it would match more.
      const unknown = await inject('POST', '/fhir/R4/Patient', patient('c-4'), { 'if-none-exist': 'colour=blue', prefer: 'handling=lenient' });
      expect(unknown.statusCode).toBe(400);
      expect(issues(unknown)[0].expression).toEqual(['colour']);
      expect(await snapshotDatabase(t.app)).toEqual(before);
    });

    test('two identical conditional creates at once create one resource; the other answers it', async () => {
      const sends = Array.from({ length: 5 }, () => inject('POST', '/fhir/R4/Patient', patient('race-1'), { 'if-none-exist': `identifier=${SYSTEM}|race-1` }));
      const answers = await Promise.all(sends);
      expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 200, 200, 200, 201]);
      expect(new Set(answers.map((a) => (a.json() as Patient).id)).size).toBe(1);
      expect(await count(`identifier=${SYSTEM}|race-1`)).toBe(1);
    });
  });

  describe('as a project member', () => {
    let p1: string;
    let p2: string;
    let member: Member;
    let hider: Member;
    beforeAll(async () => {
      p1 = await makeProject(t.app, 'Cond one');
      p2 = await makeProject(t.app, 'Cond two');
      const doctor = (await make(t.app, { resourceType: 'Practitioner' }, p1)).id;
      member = await signedInMember(t.app, p1, { key: 'cond-member', profile: `Practitioner/${doctor}`, policy: [{ resourceType: 'Patient' }] });
      hider = await signedInMember(t.app, p1, { key: 'cond-hider', profile: `Practitioner/${doctor}`, policy: [{ resourceType: 'Patient', hiddenFields: ['birthDate'] }] });
    });

    test('a match in another project is not seen (no leak): the member creates in their own', async () => {
      await make<Patient>(t.app, patient('shared-1'), p2);
      const res = await inject('POST', '/fhir/R4/Patient', patient('shared-1'), { 'if-none-exist': `identifier=${SYSTEM}|shared-1` }, member.session);
      expect(res.statusCode).toBe(201);
      expect((res.json() as Patient).meta?.project).toBe(p1);
    });

    test('criteria on a field hidden from the caller are refused, so they cannot probe it', async () => {
      await make<Patient>(t.app, patient('hidden-1', { birthDate: '1970-01-01' }), p1);
      const before = await snapshotDatabase(t.app);
      const probe = await inject('POST', '/fhir/R4/Patient', patient('hidden-2'), { 'if-none-exist': 'birthdate=1970-01-01' }, hider.session);
      expect(probe.statusCode).toBe(400);
      expect(issues(probe)[0].expression).toEqual(['birthdate']);
      const update = await inject('PUT', '/fhir/R4/Patient?birthdate=1970-01-01', patient('hidden-2'), {}, hider.session);
      expect(update.statusCode).toBe(400);
      expect(await snapshotDatabase(t.app)).toEqual(before);
    });
  });

  describe('update by criteria (PUT /Patient?...)', () => {
    test('no match creates with a server id (201), one match is updated (200), several are 412', async () => {
      const created = await inject('PUT', `/fhir/R4/Patient?identifier=${SYSTEM}|u-1`, patient('u-1', { active: true }));
      expect(created.statusCode).toBe(201);
      const id = (created.json() as Patient).id as string;
      expect(created.headers.location).toBe(`http://localhost:8103/fhir/R4/Patient/${id}/_history/1`);
      const updated = await inject('PUT', `/fhir/R4/Patient?identifier=${SYSTEM}|u-1`, patient('u-1', { active: false }));
      expect(updated.statusCode).toBe(200);
      expect(updated.headers.etag).toBe('W/"2"');
      expect(updated.json()).toMatchObject({ id, active: false });

      const stale = await inject('PUT', `/fhir/R4/Patient?identifier=${SYSTEM}|u-1`, patient('u-1'), { 'if-match': 'W/"1"' });
      expect(stale.statusCode).toBe(412);
      const otherId = await inject('PUT', `/fhir/R4/Patient?identifier=${SYSTEM}|u-1`, { ...patient('u-1'), id: 'someone-else' });
      expect(otherId.statusCode).toBe(400);
      expect(issues(otherId)[0].expression).toEqual(['id']);
      const clientId = await inject('PUT', `/fhir/R4/Patient?identifier=${SYSTEM}|u-none`, { ...patient('u-none'), id: 'client-chosen' });
      expect(clientId.statusCode).toBe(400);

      await post(t.app, admin.headers, patient('u-2'));
      await post(t.app, admin.headers, patient('u-2'));
      const before = await snapshotDatabase(t.app);
      const several = await inject('PUT', `/fhir/R4/Patient?identifier=${SYSTEM}|u-2`, patient('u-2', { active: true }));
      expect(several.statusCode).toBe(412);
      expect(await snapshotDatabase(t.app)).toEqual(before);
      const noCriteria = await inject('PUT', '/fhir/R4/Patient', patient('u-3'));
      expect(noCriteria.statusCode).toBe(400);
    });

    test('two conditional updates at once that match nothing create one resource', async () => {
      const answers = await Promise.all([1, 2, 3].map((n) => inject('PUT', `/fhir/R4/Patient?identifier=${SYSTEM}|u-race`, patient('u-race', { name: [{ family: `N${n}` }] }))));
      expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 200, 201]);
      expect(await count(`identifier=${SYSTEM}|u-race`)).toBe(1);
    });
  });

  describe('delete by criteria (DELETE /Patient?...)', () => {
    test('one match is deleted, none deletes nothing, several are 412 (conditionalDelete: single)', async () => {
      const one = await post<Patient>(t.app, admin.headers, patient('d-1'));
      const res = await inject('DELETE', `/fhir/R4/Patient?identifier=${SYSTEM}|d-1`);
      expect(res.statusCode).toBe(200);
      expect(outcomeText(res)).toBe(`Deleted Patient/${one.id}`);
      expect((await inject('GET', `/fhir/R4/Patient/${one.id}`)).statusCode).toBe(410);
      const none = await inject('DELETE', `/fhir/R4/Patient?identifier=${SYSTEM}|d-1`);
      expect(none.statusCode).toBe(200);
      expect(outcomeText(none)).toMatch(/nothing was deleted/);

      await post(t.app, admin.headers, patient('d-2'));
      await post(t.app, admin.headers, patient('d-2'));
      const before = await snapshotDatabase(t.app);
      expect((await inject('DELETE', `/fhir/R4/Patient?identifier=${SYSTEM}|d-2`)).statusCode).toBe(412);
      expect((await inject('DELETE', '/fhir/R4/Patient')).statusCode).toBe(400);
      expect(await snapshotDatabase(t.app)).toEqual(before);
    });
  });

  describe('read with If-None-Match / If-Modified-Since', () => {
    test('the current version answers 304 with ETag and Last-Modified and no body; another version 200', async () => {
      const created = await post<Patient>(t.app, admin.headers, patient('r-1'));
      const url = `/fhir/R4/Patient/${created.id}`;
      const first = await inject('GET', url);
      const lastModified = first.headers['last-modified'] as string;

      const same = await inject('GET', url, undefined, { 'if-none-match': 'W/"1"' });
      expect(same.statusCode).toBe(304);
      expect(same.body).toBe('');
      expect(same.headers.etag).toBe('W/"1"');
      expect(same.headers['last-modified']).toBe(lastModified);
      expect((await inject('GET', url, undefined, { 'if-none-match': '"1"' })).statusCode).toBe(304);
      expect((await inject('GET', url, undefined, { 'if-none-match': 'W/"7", W/"1"' })).statusCode).toBe(304);
      expect((await inject('GET', url, undefined, { 'if-none-match': '*' })).statusCode).toBe(304);
      expect((await inject('GET', url, undefined, { 'if-none-match': 'W/"2"' })).statusCode).toBe(200);

      expect((await inject('GET', url, undefined, { 'if-modified-since': lastModified })).statusCode).toBe(304);
      expect((await inject('GET', url, undefined, { 'if-modified-since': new Date(Date.parse(lastModified) + 60_000).toUTCString() })).statusCode).toBe(304);
      const older = await inject('GET', url, undefined, { 'if-modified-since': new Date(Date.parse(lastModified) - 1000).toUTCString() });
      expect(older.statusCode).toBe(200);
      expect((older.json() as Patient).id).toBe(created.id);
      // If-None-Match decides when both are sent.
      expect((await inject('GET', url, undefined, { 'if-none-match': 'W/"2"', 'if-modified-since': lastModified })).statusCode).toBe(200);
      expect((await inject('GET', url, undefined, { 'if-modified-since': 'yesterday' })).statusCode).toBe(200);

      await inject('PUT', url, { ...created, active: true });
      expect((await inject('GET', url, undefined, { 'if-none-match': 'W/"1"' })).statusCode).toBe(200);
      expect((await inject('GET', `${url}/_history/1`, undefined, { 'if-none-match': 'W/"1"' })).statusCode).toBe(304);
    });

    test('a conditional read checks access first: another project is 404, a deleted resource 410', async () => {
      const p = await makeProject(t.app, 'Cond read');
      const doctor = (await make(t.app, { resourceType: 'Practitioner' }, p)).id;
      const reader = await signedInMember(t.app, p, { key: 'cond-reader', profile: `Practitioner/${doctor}`, policy: [{ resourceType: 'Patient', readonly: true }] });
      const elsewhere = await post<Patient>(t.app, admin.headers, patient('r-2'));
      const res = await inject('GET', `/fhir/R4/Patient/${elsewhere.id}`, undefined, { 'if-none-match': '*' }, reader.session);
      expect(res.statusCode).toBe(404);
      await inject('DELETE', `/fhir/R4/Patient/${elsewhere.id}`);
      expect((await inject('GET', `/fhir/R4/Patient/${elsewhere.id}`, undefined, { 'if-none-match': 'W/"1"' })).statusCode).toBe(410);
    });
  });
});
