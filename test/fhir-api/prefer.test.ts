import type { Bundle, OperationOutcome, Patient } from '@medplum/fhirtypes';
import { FHIR_JSON, issues, post } from '../helpers/fhir';
import { useSignIn, useTestApp } from '../helpers/suite';

describe('Prefer', () => {
  const t = useTestApp();
  const admin = useSignIn(t);

  const inject = (method: 'GET' | 'POST' | 'PUT' | 'PATCH', url: string, payload: unknown, prefer?: string, contentType = FHIR_JSON['content-type']) =>
    t.app.inject({ method, url, headers: { ...admin.headers, ...(payload !== undefined ? { 'content-type': contentType } : {}), ...(prefer ? { prefer } : {}) }, payload: payload === undefined ? undefined : JSON.stringify(payload) });

  describe('return= on create, update and patch', () => {
    test('return=minimal: the status and headers only, no body', async () => {
      const created = await inject('POST', '/fhir/R4/Patient', { resourceType: 'Patient', name: [{ family: 'Minimal' }] }, 'return=minimal');
      expect(created.statusCode).toBe(201);
      expect(created.body).toBe('');
      expect(created.headers.location).toMatch(/^http:\/\/localhost:8103\/fhir\/R4\/Patient\/[0-9a-f-]{36}\/_history\/1$/);
      expect(created.headers.etag).toBe('W/"1"');
      expect(created.headers['last-modified']).toBeDefined();
      expect(created.headers['preference-applied']).toBe('return=minimal');
      const id = (created.headers.location as string).split('/')[6];
      const updated = await inject('PUT', `/fhir/R4/Patient/${id}`, { resourceType: 'Patient', id, active: true }, 'return=minimal');
      expect([updated.statusCode, updated.body, updated.headers.etag]).toEqual([200, '', 'W/"2"']);
      const patched = await inject('PATCH', `/fhir/R4/Patient/${id}`, [{ op: 'replace', path: '/active', value: false }], 'return=minimal', 'application/json-patch+json');
      expect([patched.statusCode, patched.body, patched.headers.etag]).toEqual([200, '', 'W/"3"']);
      const read = await t.app.inject({ method: 'GET', url: `/fhir/R4/Patient/${id}`, headers: admin.headers });
      expect((read.json() as Patient).active).toBe(false);
    });

    test('return=OperationOutcome: an outcome saying what was done; return=representation (the default): the resource', async () => {
      const outcome = await inject('POST', '/fhir/R4/Patient', { resourceType: 'Patient' }, 'return=OperationOutcome');
      expect(outcome.statusCode).toBe(201);
      expect(outcome.headers['content-type']).toMatch(/^application\/fhir\+json/);
      const body = outcome.json() as OperationOutcome;
      expect(body.resourceType).toBe('OperationOutcome');
      expect(body.issue?.[0]).toMatchObject({ severity: 'information', code: 'informational' });
      expect(body.issue?.[0].details?.text).toMatch(/^Created Patient\/[0-9a-f-]{36} \(version 1\)$/);
      const representation = await inject('POST', '/fhir/R4/Patient', { resourceType: 'Patient' }, 'return=representation');
      expect((representation.json() as Patient).resourceType).toBe('Patient');
      expect(representation.headers['preference-applied']).toBe('return=representation');
      // Unknown preferences and values are ignored (RFC 7240): the resource, as without Prefer.
      const unknown = await inject('POST', '/fhir/R4/Patient', { resourceType: 'Patient' }, 'return=everything, respond-async');
      expect((unknown.json() as Patient).resourceType).toBe('Patient');
      expect(unknown.headers['preference-applied']).toBeUndefined();
      const several = await inject('POST', '/fhir/R4/Patient', { resourceType: 'Patient' }, 'handling=strict, return="minimal"');
      expect(several.body).toBe('');
    });

    test('a refused write answers its OperationOutcome whatever return= asks', async () => {
      const res = await inject('POST', '/fhir/R4/Patient', { resourceType: 'Patient', birthDate: 'soon' }, 'return=minimal');
      expect(res.statusCode).toBe(400);
      expect(issues(res)[0].expression?.[0]).toMatch(/^Patient\.birthDate/);
    });
  });

  describe('handling= on search', () => {
    test('lenient: unknown parameters are ignored, with a warning entry (search.mode outcome); strict (the default) refuses them', async () => {
      const ada = await post<Patient>(t.app, admin.headers, { resourceType: 'Patient', name: [{ family: 'Lenient' }] });
      const strict = await inject('GET', '/fhir/R4/Patient?family=Lenient&colour=blue', undefined);
      expect(strict.statusCode).toBe(400);
      expect(issues(strict)[0].expression).toEqual(['colour']);
      expect((await inject('GET', '/fhir/R4/Patient?family=Lenient&colour=blue', undefined, 'handling=strict')).statusCode).toBe(400);

      const lenient = await inject('GET', '/fhir/R4/Patient?family=Lenient&colour=blue&_wibble=1', undefined, 'handling=lenient');
      expect(lenient.statusCode).toBe(200);
      const bundle = lenient.json() as Bundle;
      const matches = bundle.entry?.filter((e) => e.search?.mode === 'match');
      expect(matches?.map((e) => e.resource?.id)).toEqual([ada.id]);
      expect(bundle.total).toBe(1);
      const outcome = bundle.entry?.find((e) => e.search?.mode === 'outcome')?.resource as OperationOutcome;
      expect(outcome.resourceType).toBe('OperationOutcome');
      expect(outcome.issue?.map((i) => [i.severity, i.code, i.expression?.[0]])).toEqual([
        ['warning', 'not-supported', 'colour'],
        ['warning', 'not-supported', '_wibble'],
      ]);
      // The links show the search that was run.
      expect(bundle.link?.find((l) => l.relation === 'self')?.url).toBe('http://localhost:8103/fhir/R4/Patient?family=Lenient&_count=20');
      // A known parameter with a bad value is still refused.
      expect((await inject('GET', '/fhir/R4/Patient?_count=lots&colour=blue', undefined, 'handling=lenient')).statusCode).toBe(400);
      // Without unknown parameters there is no outcome entry.
      const clean = (await inject('GET', '/fhir/R4/Patient?family=Lenient', undefined, 'handling=lenient')).json() as Bundle;
      expect(clean.entry?.every((e) => e.search?.mode === 'match')).toBe(true);
    });
  });
});
