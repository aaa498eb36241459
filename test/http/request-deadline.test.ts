import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import { connectDatabase, type Database } from '../../src/db/database';
import { registerRequestDeadline } from '../../src/http/request-deadline';
import { hostPort, startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';

/**
 * The backstop of src/http/request-deadline.ts, with the real driver and engine behind a TCP
 * proxy the test cuts. `/hang` never answers on its own (a driver call left pending forever on a
 * dead connection): whatever answers it is the deadline. Bounds are jest's test timeouts.
 */
const TIMEOUT_MS = 300;
const GRACE_MS = 2 * TIMEOUT_MS;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean): Promise<void> {
  while (!check()) {
    await sleep(25);
  }
}

describe('request deadline', () => {
  let proxy: TcpProxy;
  let database: Database;
  let app: FastifyInstance;
  /** Answers /held/{name} when called. */
  const held = new Map<string, () => void>();
  beforeEach(async () => {
    held.clear();
    proxy = await startTcpProxy(hostPort(process.env.TEST_MONGODB_URI as string));
    database = await connectDatabase(proxy.mongodbUri(), `t_${randomBytes(6).toString('hex')}`, !process.env.MONGODB_URI, { timeoutMs: TIMEOUT_MS });
    app = Fastify();
    registerRequestDeadline(app, database);
    app.get('/hang', () => new Promise(() => undefined));
    app.get('/held/:name', (request) => new Promise((resolve) => held.set((request.params as { name: string }).name, () => resolve({ released: true }))));
    app.get('/slow', async () => {
      await sleep(3 * GRACE_MS);
      return { done: true };
    });
    await app.ready();
  });
  afterEach(async () => {
    await app.close();
    await proxy.restore();
    await database.close();
    await proxy.close();
  });

  const expectAbandoned = (res: LightMyRequestResponse): void => {
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ resourceType: 'OperationOutcome' });
  };

  test('on a healthy database a request running far past the grace is never cut', async () => {
    const res = await app.inject({ method: 'GET', url: '/slow' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ done: true });
  }, 20_000);

  test('a request open when an outage begins, its grace already passed, answers 503 once the database is known down', async () => {
    let answered: LightMyRequestResponse | undefined;
    const pending = app.inject({ method: 'GET', url: '/hang' }).then((res) => (answered = res));
    await sleep(2 * GRACE_MS);
    expect(answered).toBeUndefined();
    await proxy.cut();
    await until(() => database.availability.down);
    expectAbandoned(await pending);
  }, 20_000);

  test('a request open when an outage begins answers 503 when its grace ends, even with the database back by then', async () => {
    const pending = app.inject({ method: 'GET', url: '/hang' });
    await proxy.cut();
    await until(() => database.availability.down);
    await proxy.restore();
    expectAbandoned(await pending);
  }, 20_000);

  test('a request begun during an outage answers 503 after its grace while the database stays down', async () => {
    await proxy.cut();
    await until(() => database.availability.down);
    expectAbandoned(await app.inject({ method: 'GET', url: '/hang' }));
  }, 20_000);

  test('requests answered before an outage are out of the backstop; those still open when it begins, first and last, answer 503', async () => {
    // The open requests are a list with swap-remove: answering the first and a middle one moves
    // the last into their places, and every request still open must be found when the outage begins.
    const answers = new Map<string, Promise<LightMyRequestResponse>>();
    for (const name of ['a', 'b', 'c', 'd', 'e']) {
      answers.set(name, app.inject({ method: 'GET', url: `/held/${name}` }));
    }
    await until(() => held.size === 5);
    held.get('a')?.();
    held.get('c')?.();
    expect((await answers.get('a'))?.json()).toEqual({ released: true });
    expect((await answers.get('c'))?.json()).toEqual({ released: true });
    await proxy.cut();
    await until(() => database.availability.down);
    for (const name of ['b', 'd', 'e']) {
      expectAbandoned(await (answers.get(name) as Promise<LightMyRequestResponse>));
    }
  }, 20_000);
});
