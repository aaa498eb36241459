import type { CapabilityStatement, OperationOutcome, Patient } from '@medplum/fhirtypes';
import { FHIR_JSON, issues, post } from '../helpers/fhir';
import { useSignIn, useTestApp } from '../helpers/suite';

describe('FHIR HTTP: methods, formats and content types', () => {
  const t = useTestApp();
  const admin = useSignIn(t);
  let patient: Patient & { id: string };

  beforeAll(async () => {
    patient = await post<Patient>(t.app, admin.headers, { resourceType: 'Patient', name: [{ family: 'Format' }] });
  });

  const expectOutcome = (res: { json(): unknown; headers: Record<string, unknown> }) => {
    expect(String(res.headers['content-type'])).toMatch(/^application\/fhir\+json/);
    const body = res.json() as OperationOutcome;
    expect(body.resourceType).toBe('OperationOutcome');
    expect(body.issue?.[0].severity).toBe('error');
    return body;
  };

  describe('a method a URL does not support is 405 with Allow', () => {
    test.each([
      ['DELETE', '/fhir/R4/metadata', 'GET, HEAD'],
      ['POST', '/fhir/R4/metadata', 'GET, HEAD'],
      ['PUT', '/fhir/R4/OperationDefinition/Project-invite', 'GET, HEAD'],
      ['POST', '/fhir/R4/Patient/_history', 'GET, HEAD'],
      ['DELETE', '/fhir/R4/Patient/abc/_history/1', 'GET, HEAD'],
    ])('%s %s', async (method, url, allow) => {
      const res = await t.app.inject({ method: method as 'GET', url, headers: admin.headers });
      expect(res.statusCode).toBe(405);
      expect(res.headers.allow).toBe(allow);
      const outcome = expectOutcome(res);
      expect(outcome.issue?.[0].code).toBe('not-supported');
      expect(outcome.issue?.[0].diagnostics).toContain(`${method} is not supported`);
    });

    test('an instance URL names its own methods', async () => {
      const res = await t.app.inject({ method: 'POST', url: `/fhir/R4/Patient/${patient.id}`, headers: { ...admin.headers, ...FHIR_JSON }, payload: patient });
      expect(res.statusCode).toBe(405);
      const allow = String(res.headers.allow).split(', ');
      expect(allow).toEqual(expect.arrayContaining(['DELETE', 'GET', 'HEAD', 'PUT']));
      expect(allow).not.toContain('POST');
    });

    test('the interactions the CapabilityStatement does not declare are 405 on a type URL', async () => {
      const cs = (await t.app.inject({ method: 'GET', url: '/fhir/R4/metadata' })).json() as CapabilityStatement;
      const declared = cs.rest?.[0].resource?.find((r) => r.type === 'Patient');
      const tries: [string, boolean][] = [
        ['PUT', declared?.conditionalUpdate === true],
        ['DELETE', declared?.conditionalDelete !== undefined && declared.conditionalDelete !== 'not-supported'],
        ['PATCH', declared?.interaction?.some((i) => i.code === 'patch') === true],
      ];
      for (const [method, supported] of tries) {
        if (supported) {
          continue;
        }
        const res = await t.app.inject({ method: method as 'PUT', url: '/fhir/R4/Patient', headers: { ...admin.headers, ...FHIR_JSON }, payload: { resourceType: 'Patient' } });
        expect({ method, status: res.statusCode }).toEqual({ method, status: 405 });
        expect(String(res.headers.allow).split(', ')).toEqual(expect.arrayContaining(['GET', 'POST']));
        expectOutcome(res);
      }
    });

    test('nothing is written by a refused method', async () => {
      const before = (await t.app.inject({ method: 'GET', url: `/fhir/R4/Patient/${patient.id}/_history`, headers: admin.headers })).json() as { entry?: unknown[] };
      await t.app.inject({ method: 'POST', url: `/fhir/R4/Patient/${patient.id}`, headers: { ...admin.headers, ...FHIR_JSON }, payload: { ...patient, name: [{ family: 'Changed' }] } });
      const after = (await t.app.inject({ method: 'GET', url: `/fhir/R4/Patient/${patient.id}/_history`, headers: admin.headers })).json() as { entry?: unknown[] };
      expect(after.entry).toHaveLength(before.entry?.length ?? 0);
    });

    test('an unknown type or a path no method serves stays 404', async () => {
      for (const [method, url] of [
        ['DELETE', '/fhir/R4/Observation'],
        ['GET', '/fhir/R4/Patient/abc/def/ghi'],
      ]) {
        const res = await t.app.inject({ method: method as 'GET', url, headers: admin.headers });
        expect({ url, status: res.statusCode }).toEqual({ url, status: 404 });
        expect(res.headers.allow).toBeUndefined();
        expectOutcome(res);
      }
    });
  });

  describe('an unknown operation or malformed id answers a message, not a route-validation dump', () => {
    test('GET Patient/$meta is 404 naming the operation', async () => {
      for (const url of ['/fhir/R4/Patient/$meta', '/fhir/R4/Patient/%24meta']) {
        const res = await t.app.inject({ method: 'GET', url, headers: admin.headers });
        expect(res.statusCode).toBe(404);
        const outcome = expectOutcome(res);
        expect(outcome.issue?.[0].diagnostics).toMatch(/Patient has no operation \$meta/);
        expect(outcome.issue?.[0].diagnostics).not.toMatch(/pattern|params/);
      }
    });

    test('a malformed id is 400 saying what an id looks like', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/fhir/R4/Patient/bad_id!', headers: admin.headers });
      expect(res.statusCode).toBe(400);
      expect(issues(res)[0]).toMatchObject({ expression: ['id'] });
      expect(issues(res)[0].diagnostics).toMatch(/not a valid resource id: 1 to 64 letters, digits/);
      const vid = await t.app.inject({ method: 'GET', url: `/fhir/R4/Patient/${patient.id}/_history/one`, headers: admin.headers });
      expect(vid.statusCode).toBe(400);
      expect(issues(vid)[0]).toMatchObject({ expression: ['vid'] });
    });
  });

  describe('formats', () => {
    test.each([
      [{ accept: 'application/fhir+xml' }, ''],
      [{ accept: 'application/xml' }, ''],
      [{ accept: 'text/xml, application/xml;q=0.9' }, ''],
      [{ accept: 'application/json;q=0, application/fhir+json;q=0' }, ''],
      [{}, '_format=xml'],
      [{}, '_format=application/fhir%2Bxml'],
      [{}, '_format=text/turtle'],
      [{ accept: 'application/fhir+json' }, '_format=xml'],
    ])('Accept %j with %s is 406 with a JSON OperationOutcome', async (headers, query) => {
      for (const url of [`/fhir/R4/Patient/${patient.id}`, '/fhir/R4/metadata', '/fhir/R4/Patient']) {
        const res = await t.app.inject({ method: 'GET', url: `${url}${query ? `?${query}` : ''}`, headers: { ...admin.headers, ...headers } });
        expect({ url, status: res.statusCode }).toEqual({ url, status: 406 });
        const outcome = expectOutcome(res);
        expect(outcome.issue?.[0].code).toBe('not-supported');
        expect(outcome.issue?.[0].diagnostics).toMatch(/JSON only/);
      }
    });

    test('a 406 comes before the write: nothing is created', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/fhir/R4/Patient?_format=xml', headers: { ...admin.headers, ...FHIR_JSON }, payload: { resourceType: 'Patient', name: [{ family: 'NotWritten' }] } });
      expect(res.statusCode).toBe(406);
      const search = (await t.app.inject({ method: 'GET', url: '/fhir/R4/Patient?name=NotWritten', headers: admin.headers })).json() as { entry?: unknown[] };
      expect(search.entry ?? []).toHaveLength(0);
    });

    test.each([
      [{}, '', 'application/fhir+json'],
      [{ accept: 'application/fhir+json' }, '', 'application/fhir+json'],
      [{ accept: 'application/json' }, '', 'application/json'],
      [{ accept: 'application/json, application/fhir+json' }, '', 'application/fhir+json'],
      [{ accept: 'application/json, */*;q=0.8' }, '', 'application/json'],
      [{ accept: 'application/fhir+json;q=0.5, application/json' }, '', 'application/json'],
      [{ accept: '*/*' }, '', 'application/fhir+json'],
      [{ accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' }, '', 'application/fhir+json'],
      [{ accept: 'application/xml' }, '_format=json', 'application/fhir+json'],
      [{}, '_format=application/json', 'application/json'],
      [{}, '_format=application/fhir%2Bjson', 'application/fhir+json'],
      [{ accept: 'application/fhir+json' }, '_format=application/json', 'application/json'],
    ])('Accept %j with %s answers %s (charset utf-8)', async (headers, query, type) => {
      for (const url of [`/fhir/R4/Patient/${patient.id}`, '/fhir/R4/metadata', '/fhir/R4/Patient', `/fhir/R4/Patient/${patient.id}/_history`]) {
        const res = await t.app.inject({ method: 'GET', url: `${url}${query ? `?${query}` : ''}`, headers: { ...admin.headers, ...headers } });
        expect({ url, status: res.statusCode }).toEqual({ url, status: 200 });
        expect(res.headers['content-type']).toBe(`${type}; charset=utf-8`);
      }
    });

    test('errors and writes echo application/json too', async () => {
      const headers = { ...admin.headers, ...FHIR_JSON, accept: 'application/json' };
      const missing = await t.app.inject({ method: 'GET', url: '/fhir/R4/Patient/does-not-exist', headers });
      expect(missing.statusCode).toBe(404);
      expect(missing.headers['content-type']).toMatch(/^application\/json/);
      const created = await t.app.inject({ method: 'POST', url: '/fhir/R4/Patient', headers, payload: { resourceType: 'Patient', name: [{ family: 'Json' }] } });
      expect(created.statusCode).toBe(201);
      expect(created.headers['content-type']).toBe('application/json; charset=utf-8');
      const wrongMethod = await t.app.inject({ method: 'DELETE', url: '/fhir/R4/metadata', headers: { ...admin.headers, accept: 'application/json' } });
      expect(wrongMethod.statusCode).toBe(405);
      expect(wrongMethod.headers['content-type']).toMatch(/^application\/json/);
    });
  });
});
