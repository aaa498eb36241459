import type { LightMyRequestResponse } from 'fastify';
import { createTestApp, snapshotDatabase, type TestApp } from '../helpers/app';
import { signIn, type SignedIn } from '../helpers/auth';
import { hostPort, startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';

/**
 * A network partition between the app and its database, made by a TCP proxy the test controls
 * (real driver, real engine, nothing mocked). The app is built with MONGODB_URI pointing at the
 * proxy. Bounds are jest's test timeouts, never timed assertions: on the code before these
 * tests, queued writes answered one after another, 10 s each, and some answered 500.
 */

const OUTAGE_TEST_TIMEOUT = 25_000;

interface Partitioned {
  t: TestApp;
  proxy: TcpProxy;
  admin: SignedIn;
}

async function partitionedApp(): Promise<Partitioned> {
  const proxy = await startTcpProxy(hostPort(process.env.TEST_MONGODB_URI as string));
  const t = await createTestApp({ env: { MONGODB_URI: proxy.mongodbUri() } });
  const admin = await signIn(t.app);
  return { t, proxy, admin };
}

const json = { 'content-type': 'application/fhir+json' };

function createPatient(p: Partitioned, family: string): Promise<LightMyRequestResponse> {
  return p.t.app.inject({ method: 'POST', url: '/fhir/R4/Patient', headers: { ...p.admin.headers, ...json }, payload: { resourceType: 'Patient', name: [{ family }] } });
}

function searchPatients(p: Partitioned): Promise<LightMyRequestResponse> {
  return p.t.app.inject({ method: 'GET', url: '/fhir/R4/Patient', headers: p.admin.headers });
}

function expectUnavailable(res: LightMyRequestResponse): void {
  expect({ status: res.statusCode, type: res.headers['content-type'] }).toEqual({ status: 503, type: expect.stringContaining('application/fhir+json') });
  expect(res.headers['retry-after']).toBe('5');
  const body = res.json();
  expect(body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'transient' }] });
  // Never the driver's own words (host names, ports, connection numbers).
  expect(res.body).not.toMatch(/127\.0\.0\.1|connection \d+|Mongo[A-Za-z]*Error|ECONN/);
}

async function waitFor(check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) {
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('database partition (TCP proxy between the app and the database)', () => {
  let p: Partitioned | undefined;
  afterEach(async () => {
    await p?.proxy.restore();
    await p?.t.close();
    await p?.proxy.close();
    p = undefined;
  });

  test(
    'writes queued behind a running write and concurrent reads all answer 503 when the database goes away',
    async () => {
      p = await partitionedApp();
      const { t, proxy } = p;
      const database = t.app.ctx.database;
      expect(proxy.accepted).toBeGreaterThan(0);

      // A long write holds the embedded engine's write lock while the writes arrive.
      let finishLongWrite!: () => void;
      const longWrite = database.transactionLock.run('tx', () => new Promise<void>((r) => (finishLongWrite = r)));
      const writes = Array.from({ length: 10 }, (_, i) => createPatient(p as Partitioned, `Queued${i}`));
      if (database.embedded) {
        await waitFor(() => database.transactionLock.waiting('tx') === writes.length);
      }

      await proxy.cut();
      const reads = Array.from({ length: 10 }, () => searchPatients(p as Partitioned));
      finishLongWrite();
      await longWrite;

      const answers = await Promise.all([...writes, ...reads]);
      for (const res of answers) {
        expectUnavailable(res);
      }
    },
    OUTAGE_TEST_TIMEOUT,
  );

  test(
    'when packets are dropped (no reset, no refusal) requests in flight and new ones still answer 503',
    async () => {
      p = await partitionedApp();
      const before = await searchPatients(p);
      expect(before.statusCode).toBe(200);

      p.proxy.blackhole();
      const inFlight = [...Array.from({ length: 5 }, (_, i) => createPatient(p as Partitioned, `Dropped${i}`)), ...Array.from({ length: 5 }, () => searchPatients(p as Partitioned))];
      for (const res of await Promise.all(inFlight)) {
        expectUnavailable(res);
      }
      const later = await Promise.all([createPatient(p, 'Later'), searchPatients(p), p.t.app.inject({ method: 'GET', url: '/healthcheck' })]);
      expectUnavailable(later[0]);
      expectUnavailable(later[1]);
      expect(later[2].statusCode).toBe(503);
    },
    OUTAGE_TEST_TIMEOUT,
  );

  test(
    'a connection lost during the commit of a plain create answers 503 (outcome unknown), not 500, and saves nothing',
    async () => {
      p = await partitionedApp();
      const before = await snapshotDatabase(p.t.app);
      const cutAtCommit = p.proxy.cutOnMessage('commitTransaction');

      const res = await createPatient(p, 'Ambiguous');
      await cutAtCommit;
      expectUnavailable(res);
      expect(res.json().issue[0].details.text).toMatch(/may or may not have been saved/);

      await p.proxy.restore();
      await waitFor(async () => (await p!.t.app.inject({ method: 'GET', url: '/healthcheck' })).statusCode === 200);
      // The commit never reached the database: nothing of the create is there.
      expect(await snapshotDatabase(p.t.app)).toEqual(before);
    },
    OUTAGE_TEST_TIMEOUT,
  );

  test(
    'requests in flight when the database goes away answer 2xx or 503, never 500, and writes work again once it is back',
    async () => {
      p = await partitionedApp();
      const answers: LightMyRequestResponse[] = [];
      const traffic = Array.from({ length: 30 }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i * 10));
        answers.push(await (i % 3 === 2 ? searchPatients(p as Partitioned) : createPatient(p as Partitioned, `Flight${i}`)));
      });
      await new Promise((r) => setTimeout(r, 100));
      await p.proxy.cut();
      await Promise.all(traffic);
      expect(answers).toHaveLength(30);
      for (const res of answers) {
        if (res.statusCode !== 200 && res.statusCode !== 201) {
          expectUnavailable(res);
        }
      }

      // Nothing left behind blocks later writes (a write stuck on a dead connection was abandoned).
      await p.proxy.restore();
      await waitFor(async () => (await p!.t.app.inject({ method: 'GET', url: '/healthcheck' })).statusCode === 200);
      const after = await Promise.all([createPatient(p, 'Back1'), createPatient(p, 'Back2')]);
      expect(after.map((r) => r.statusCode)).toEqual([201, 201]);
    },
    OUTAGE_TEST_TIMEOUT,
  );

  test(
    'during an outage every kind of request answers 503 with an OperationOutcome',
    async () => {
      p = await partitionedApp();
      const { t, admin } = p;
      const created = await createPatient(p, 'Before');
      expect(created.statusCode).toBe(201);
      const id = created.json().id as string;
      const project = admin.project?.reference?.split('/')[1];

      await p.proxy.cut();
      await waitFor(() => t.app.ctx.database.availability.down);
      const inject = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: object, headers: Record<string, string> = {}) =>
        t.app.inject({ method, url, headers: { ...admin.headers, ...headers }, payload });
      const answers = await Promise.all([
        inject('POST', '/auth/login', { email: 'admin@example.com', password: 'correct-horse-battery-staple' }),
        inject('POST', '/oauth2/token', undefined, { 'content-type': 'application/x-www-form-urlencoded' }),
        inject('GET', '/auth/me'),
        inject('POST', '/auth/resetpassword', { email: 'someone@example.com' }),
        inject('GET', `/fhir/R4/Patient/${id}`),
        inject('GET', `/fhir/R4/Patient/${id}/_history`),
        inject('GET', '/fhir/R4/Patient?name=Before'),
        inject('PUT', `/fhir/R4/Patient/${id}`, { resourceType: 'Patient', id, name: [{ family: 'Changed' }] }, json),
        inject('DELETE', `/fhir/R4/Patient/${id}`),
        inject('POST', `/fhir/R4/Project/${project}/$invite`, { resourceType: 'Practitioner', firstName: 'A', lastName: 'B', email: 'a@example.com' }, json),
        inject('POST', `/admin/projects/${project}/invite`, { resourceType: 'Practitioner', firstName: 'A', lastName: 'B', email: 'b@example.com' }),
      ]);
      for (const res of answers) {
        expectUnavailable(res);
      }
    },
    OUTAGE_TEST_TIMEOUT,
  );

  test(
    'with MONGODB_URI the server answers 503 during the outage and recovers by itself when the database returns',
    async () => {
      p = await partitionedApp();
      const { t, proxy } = p;
      expect((await t.app.inject({ method: 'GET', url: '/healthcheck' })).statusCode).toBe(200);

      await proxy.cut();
      await waitFor(async () => (await t.app.inject({ method: 'GET', url: '/healthcheck' })).statusCode === 503);
      const health = await t.app.inject({ method: 'GET', url: '/healthcheck' });
      expect(health.json()).toMatchObject({ ok: false, database: 'unreachable' });
      expectUnavailable(await createPatient(p, 'During'));
      expectUnavailable(await searchPatients(p));
      // What needs no database still answers.
      expect((await t.app.inject({ method: 'GET', url: '/fhir/R4/metadata' })).statusCode).toBe(200);

      await proxy.restore();
      await waitFor(async () => (await t.app.inject({ method: 'GET', url: '/healthcheck' })).statusCode === 200);
      const created = await createPatient(p, 'After');
      expect(created.statusCode).toBe(201);
      const read = await t.app.inject({ method: 'GET', url: `/fhir/R4/Patient/${created.json().id}`, headers: p.admin.headers });
      expect(read.statusCode).toBe(200);
      expect(read.json().name).toEqual([{ family: 'After' }]);
    },
    OUTAGE_TEST_TIMEOUT,
  );
});
