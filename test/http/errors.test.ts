import { createTestApp, type TestApp } from '../helpers/app';
import { signIn, type SignedIn } from '../helpers/auth';
import {
  MongoClientClosedError,
  MongoNetworkError,
  MongoNetworkTimeoutError,
  MongoNotConnectedError,
  MongoOperationTimeoutError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
  TopologyType,
  type TopologyDescription,
} from 'mongodb';
import { createRequire } from 'node:module';
import { toFhirError } from '../../src/http/error-handler';
import { DatabaseUnavailableError } from '../../src/db/availability';
import { AmbiguousCommitError } from '../../src/db/transaction';

// The pool errors are not exported by the driver's entry point; these are its own classes.
type PoolErrorClass = new (pool: { address: string; serverError?: Error }, message?: string) => Error;
const { PoolClearedError, PoolClearedOnNetworkError, PoolClosedError, WaitQueueTimeoutError } = createRequire(__filename)('mongodb/lib/cmap/errors') as {
  PoolClearedError: PoolErrorClass;
  PoolClearedOnNetworkError: PoolErrorClass;
  PoolClosedError: PoolErrorClass;
  WaitQueueTimeoutError: new (message: string, address: string) => Error;
};
const { TopologyDescription: Topology } = createRequire(__filename)('mongodb/lib/sdam/topology_description') as { TopologyDescription: new (type: TopologyType) => TopologyDescription };

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

  describe('every way the driver says the database is unreachable is a 503, never a 500', () => {
    const secret = 'host db-7.internal:27017 said';
    const pool = { address: 'db-7.internal:27017', serverError: new MongoNetworkError(secret) };
    const serverError = (code: number, labels: string[] = []): MongoServerError => {
      const err = new MongoServerError({ message: secret, code, ok: 0 });
      for (const label of labels) {
        err.addErrorLabel(label);
      }
      return err;
    };
    const cases: [string, Error][] = [
      ['MongoNetworkError', new MongoNetworkError(secret)],
      ['MongoNetworkTimeoutError', new MongoNetworkTimeoutError(secret)],
      ['MongoServerSelectionError', new MongoServerSelectionError(secret, new Topology(TopologyType.Unknown))],
      ['MongoPoolClearedError', new PoolClearedError(pool)],
      ['PoolClearedOnNetworkError', new PoolClearedOnNetworkError(pool)],
      ['MongoPoolClosedError', new PoolClosedError(pool)],
      ['MongoWaitQueueTimeoutError', new WaitQueueTimeoutError(secret, pool.address)],
      ['MongoTopologyClosedError', new MongoTopologyClosedError(secret)],
      ['MongoNotConnectedError', new MongoNotConnectedError(secret)],
      ['MongoClientClosedError', new MongoClientClosedError()],
      ['MongoOperationTimeoutError', new MongoOperationTimeoutError(secret)],
      ['ShutdownInProgress (91)', serverError(91)],
      ['NotWritablePrimary (10107)', serverError(10107)],
      ['PrimarySteppedDown (189)', serverError(189)],
      ['a write the driver still calls retryable', serverError(262, ['RetryableWriteError'])],
      ['a transient transaction error after the retries', serverError(112, ['TransientTransactionError'])],
      ['AmbiguousCommitError', new AmbiguousCommitError()],
      ['DatabaseUnavailableError', new DatabaseUnavailableError('down')],
      ['a driver error wrapped as a cause', new Error('wrapped', { cause: new PoolClearedError(pool) })],
    ];
    test.each(cases)('%s', (_name, err) => {
      const fhirError = toFhirError(err);
      expect(fhirError.statusCode).toBe(503);
      expect(fhirError.headers).toEqual({ 'retry-after': '5' });
      expect(fhirError.outcome.issue[0].code).toBe('transient');
      expect(JSON.stringify(fhirError.outcome)).not.toMatch(/db-7|internal|Mongo|pool/i);
    });

    test('an ambiguous commit says the change may or may not have been saved', () => {
      expect(toFhirError(new AmbiguousCommitError()).message).toMatch(/may or may not have been saved: read it back/);
      expect(toFhirError(new MongoNetworkError(secret)).message).toBe('The database is unreachable right now; try again shortly');
    });

    test('a server error that is not about availability stays a 500', () => {
      expect(toFhirError(serverError(2)).statusCode).toBe(500);
    });
  });
});
