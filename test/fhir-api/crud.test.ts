import type { Patient } from '@medplum/fhirtypes';
import { snapshotDatabase } from '../helpers/app';
import { useSignIn, useTestApp } from '../helpers/suite';
import { FHIR_JSON, issues, post } from '../helpers/fhir';

describe('FHIR REST interactions', () => {
  const t = useTestApp();
  const admin = useSignIn(t);

  const inject = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown, headers: Record<string, string> = {}) =>
    t.app.inject({ method, url, headers: { ...admin.headers, ...(payload !== undefined ? FHIR_JSON : {}), ...headers }, payload: payload as string });

  test('create answers 201 with Location, ETag, meta and a server id; read answers it', async () => {
    const res = await inject('POST', '/fhir/R4/Patient', { resourceType: 'Patient', id: 'client-chosen', name: [{ family: 'Created' }] });
    expect(res.statusCode).toBe(201);
    const body = res.json() as Patient;
    expect(body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.location).toBe(`http://localhost:8103/fhir/R4/Patient/${body.id}/_history/1`);
    expect(res.headers.etag).toBe('W/"1"');
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    expect(body.meta).toMatchObject({ versionId: '1', project: admin.project?.reference?.split('/')[1], author: { reference: admin.profile?.reference } });

    const read = await inject('GET', `/fhir/R4/Patient/${body.id}`);
    expect(read.statusCode).toBe(200);
    expect(read.headers.etag).toBe('W/"1"');
    expect(read.headers['last-modified']).toBeDefined();
    expect(read.json()).toEqual(body);
  });

  test('update with a matching If-Match answers the new version; a stale one 412; vread answers each version', async () => {
    const created = await post<Patient>(t.app, admin.headers, { resourceType: 'Patient', name: [{ family: 'One' }] });
    const v2 = await inject('PUT', `/fhir/R4/Patient/${created.id}`, { ...created, name: [{ family: 'Two' }] }, { 'if-match': 'W/"1"' });
    expect(v2.statusCode).toBe(200);
    expect(v2.headers.etag).toBe('W/"2"');
    expect((v2.json() as Patient).name?.[0].family).toBe('Two');

    const stale = await inject('PUT', `/fhir/R4/Patient/${created.id}`, { ...created, name: [{ family: 'Stale' }] }, { 'if-match': 'W/"1"' });
    expect(stale.statusCode).toBe(412);
    expect(issues(stale)[0].expression).toEqual(['If-Match']);

    const noIfMatch = await inject('PUT', `/fhir/R4/Patient/${created.id}`, { ...created, name: [{ family: 'Three' }] });
    expect(noIfMatch.statusCode).toBe(200);
    expect(noIfMatch.headers.etag).toBe('W/"3"');

    const v1 = await inject('GET', `/fhir/R4/Patient/${created.id}/_history/1`);
    expect(v1.statusCode).toBe(200);
    expect((v1.json() as Patient).name?.[0].family).toBe('One');
    expect((await inject('GET', `/fhir/R4/Patient/${created.id}/_history/9`)).statusCode).toBe(404);
  });

  test('update refuses an id that differs from the URL, another type, an unknown id and a malformed If-Match', async () => {
    const created = await post<Patient>(t.app, admin.headers, { resourceType: 'Patient' });
    const wrongId = await inject('PUT', `/fhir/R4/Patient/${created.id}`, { ...created, id: 'other' });
    expect(wrongId.statusCode).toBe(400);
    expect(issues(wrongId)[0].expression).toEqual(['id']);
    const wrongType = await inject('PUT', `/fhir/R4/Patient/${created.id}`, { resourceType: 'Practitioner', id: created.id });
    expect(wrongType.statusCode).toBe(400);
    expect(issues(wrongType)[0].expression).toEqual(['resourceType']);
    expect((await inject('PUT', '/fhir/R4/Patient/does-not-exist', { resourceType: 'Patient', id: 'does-not-exist' })).statusCode).toBe(404);
    const badIfMatch = await inject('PUT', `/fhir/R4/Patient/${created.id}`, created, { 'if-match': 'yesterday' });
    expect(badIfMatch.statusCode).toBe(400);
    expect(issues(badIfMatch)[0].expression).toEqual(['If-Match']);
  });

  test('delete answers 200; later reads answer 410, also the deletion version; unknown ids 404', async () => {
    const created = await post<Patient>(t.app, admin.headers, { resourceType: 'Patient' });
    const del = await inject('DELETE', `/fhir/R4/Patient/${created.id}`);
    expect(del.statusCode).toBe(200);
    const read = await inject('GET', `/fhir/R4/Patient/${created.id}`);
    expect(read.statusCode).toBe(410);
    expect(issues(read)[0].code).toBe('deleted');
    expect((await inject('GET', `/fhir/R4/Patient/${created.id}/_history/2`)).statusCode).toBe(410);
    expect((await inject('GET', `/fhir/R4/Patient/${created.id}/_history/1`)).statusCode).toBe(200);
    expect((await inject('PUT', `/fhir/R4/Patient/${created.id}`, created)).statusCode).toBe(410);
    expect((await inject('DELETE', '/fhir/R4/Patient/nobody')).statusCode).toBe(404);
    expect((await inject('GET', '/fhir/R4/Patient/nobody')).statusCode).toBe(404);
  });

  test('an unknown type is a 404 OperationOutcome, on every interaction', async () => {
    for (const [method, url] of [
      ['GET', '/fhir/R4/Observation'],
      ['GET', '/fhir/R4/Observation/1'],
      ['POST', '/fhir/R4/Observation'],
      ['GET', '/fhir/R4/Observation/_history'],
    ] as const) {
      const res = await inject(method, url, method === 'POST' ? { resourceType: 'Observation' } : undefined);
      expect({ url, status: res.statusCode }).toEqual({ url, status: 404 });
      expect(issues(res)[0].code).toBe('not-found');
    }
  });

  test('no token or a bad token is 401 on every interaction', async () => {
    for (const authorization of [undefined, 'Bearer not-a-token']) {
      const headers = authorization ? { authorization } : {};
      for (const [method, url] of [
        ['GET', '/fhir/R4/Patient'],
        ['GET', '/fhir/R4/Patient/x'],
        ['GET', '/fhir/R4/Patient/x/_history'],
        ['GET', '/fhir/R4/Patient/_history'],
        ['DELETE', '/fhir/R4/Patient/x'],
      ] as const) {
        const res = await t.app.inject({ method, url, headers });
        expect({ url, status: res.statusCode }).toEqual({ url, status: 401 });
      }
      const create = await t.app.inject({ method: 'POST', url: '/fhir/R4/Patient', headers: { ...headers, ...FHIR_JSON }, payload: { resourceType: 'Patient' } });
      expect(create.statusCode).toBe(401);
    }
  });

  test('a form-encoded or text body is 415', async () => {
    const form = await t.app.inject({ method: 'POST', url: '/fhir/R4/Patient', headers: { ...admin.headers, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'resourceType=Patient' });
    expect(form.statusCode).toBe(415);
    const text = await t.app.inject({ method: 'POST', url: '/fhir/R4/Patient', headers: { ...admin.headers, 'content-type': 'text/plain' }, payload: '{}' });
    expect(text.statusCode).toBe(415);
  });

  test('malformed JSON is 400, a body over 1 MB is 413, and neither writes anything', async () => {
    const before = await snapshotDatabase(t.app);
    const malformed = await t.app.inject({ method: 'POST', url: '/fhir/R4/Patient', headers: { ...admin.headers, ...FHIR_JSON }, payload: '{"resourceType": "Patient",' });
    expect(malformed.statusCode).toBe(400);
    expect(issues(malformed)[0].diagnostics).toMatch(/not valid JSON/);
    const big = await t.app.inject({
      method: 'POST',
      url: '/fhir/R4/Patient',
      headers: { ...admin.headers, ...FHIR_JSON },
      payload: JSON.stringify({ resourceType: 'Patient', text: { status: 'generated', div: `<div>${'x'.repeat(1024 * 1024)}</div>` } }),
    });
    expect(big.statusCode).toBe(413);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('an invalid resource is 400 with one issue per problem, each naming its element', async () => {
    const before = await snapshotDatabase(t.app);
    const res = await inject('POST', '/fhir/R4/Patient', { resourceType: 'Patient', active: 'yes', birthDate: 'yesterday', nickname: 'x' });
    expect(res.statusCode).toBe(400);
    const expressions = issues(res).flatMap((i) => i.expression ?? []);
    expect(expressions).toEqual(expect.arrayContaining(['Patient.active', 'Patient.birthDate', 'Patient.nickname']));
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('operators in a body are refused and never reach the database', async () => {
    const before = await snapshotDatabase(t.app);
    const top = await inject('POST', '/fhir/R4/Patient', { resourceType: 'Patient', $gt: '' });
    expect(top.statusCode).toBe(400);
    const nested = await inject('POST', '/fhir/R4/Patient', { resourceType: 'Patient', name: [{ family: { $gt: '' } }] });
    expect(nested.statusCode).toBe(400);
    const search = await t.app.inject({ method: 'POST', url: '/fhir/R4/Patient/_search', headers: { ...admin.headers, 'content-type': 'application/json' }, payload: { name: { $gt: '' } } });
    expect(search.statusCode).toBe(400);
    expect(issues(search)[0].expression).toEqual(['name']);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('concurrent updates with the same If-Match: exactly one wins, the others get 412', async () => {
    const created = await post<Patient>(t.app, admin.headers, { resourceType: 'Patient', name: [{ family: 'Race' }] });
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => inject('PUT', `/fhir/R4/Patient/${created.id}`, { ...created, name: [{ family: `Racer ${i}` }] }, { 'if-match': 'W/"1"' })),
    );
    const statuses = results.map((r) => r.statusCode).sort();
    expect(statuses).toEqual([200, 412, 412, 412, 412, 412]);
    const history = await t.app.ctx.database.db.collection('Patient_history').countDocuments({ id: created.id });
    expect(history).toBe(2);
    const read = await inject('GET', `/fhir/R4/Patient/${created.id}`);
    expect(read.headers.etag).toBe('W/"2"');
  });

  test('an invalid id in the URL is 400 naming it', async () => {
    const res = await inject('GET', '/fhir/R4/Patient/has%20space');
    expect(res.statusCode).toBe(400);
    expect(issues(res)[0].expression?.[0]).toMatch(/id/);
  });
});
