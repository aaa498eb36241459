import { createTestApp, type TestApp } from '../helpers/app';
import { signIn, type SignedIn } from '../helpers/auth';
import { toFhirError } from '../../src/http/error-handler';

function expectOutcome(res: { statusCode: number; headers: Record<string, unknown>; json(): unknown; body: string }, status: number): void {
  expect(res.statusCode).toBe(status);
  expect(String(res.headers['content-type'])).toContain('application/fhir+json');
  expect(res.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error' }] });
}

describe('errors are OperationOutcomes', () => {
  let t: TestApp;
  let admin: SignedIn;
  beforeAll(async () => {
    t = await createTestApp();
    admin = await signIn(t.app);
  });
  afterAll(async () => {
    await t.close();
  });

  test('a malformed URL is a 400 OperationOutcome that does not echo the URL', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/fhir/R4/Patient/%E0%A4%A', headers: admin.headers });
    expectOutcome(res, 400);
    expect(res.body).not.toContain('%E0');
  });

  test('an over-long id is a 400 OperationOutcome that does not echo it', async () => {
    const id = 'a'.repeat(300);
    const res = await t.app.inject({ method: 'GET', url: `/fhir/R4/Patient/${id}`, headers: admin.headers });
    expectOutcome(res, 400);
    expect(res.body).not.toContain(id);
  });

  test.each(['application/fhir+json', 'application/json'])('a %s body with __proto__ or constructor keys is refused and nothing is stored', async (type) => {
    for (const payload of ['{"resourceType":"Patient","__proto__":{"admin":true}}', '{"resourceType":"Patient","constructor":{"prototype":{"x":1}}}']) {
      const res = await t.app.inject({ method: 'POST', url: '/fhir/R4/Patient', headers: { ...admin.headers, 'content-type': type }, payload });
      expectOutcome(res, 400);
    }
    const search = await t.app.inject({ method: 'GET', url: '/fhir/R4/Patient', headers: admin.headers });
    expect(search.json().total ?? search.json().entry?.length ?? 0).toBe(0);
  });

  test('malformed JSON and a wrong content type', async () => {
    const bad = await t.app.inject({ method: 'POST', url: '/fhir/R4/Patient', headers: { ...admin.headers, 'content-type': 'application/fhir+json' }, payload: '{"resourceType":' });
    expectOutcome(bad, 400);
    const xml = await t.app.inject({ method: 'POST', url: '/fhir/R4/Patient', headers: { ...admin.headers, 'content-type': 'application/xml' }, payload: '<Patient/>' });
    expectOutcome(xml, 415);
  });

  test('a database outage is a 503 with Retry-After, not a 500', () => {
    const err = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { name: 'MongoServerSelectionError' });
    const fhirError = toFhirError(err);
    expect(fhirError.statusCode).toBe(503);
    expect(fhirError.headers).toEqual({ 'retry-after': '5' });
    expect(fhirError.message).not.toContain('ECONNREFUSED');
  });

  test('an unexpected error is a 500 that does not echo its message', () => {
    const fhirError = toFhirError(new Error('secret internal detail'));
    expect(fhirError.statusCode).toBe(500);
    expect(JSON.stringify(fhirError.outcome)).not.toContain('secret internal detail');
  });
});
