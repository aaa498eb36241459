import type { Project } from '@medplum/fhirtypes';
import type { LightMyRequestResponse } from 'fastify';
import { ACTIVATIONS } from '../../src/accounts/activation';
import type { EmailServices } from '../../src/email/mail';
import { OUTBOX_COLLECTION } from '../../src/email/outbox';
import { createResource } from '../../src/fhir/repository';
import { snapshotDatabase } from '../helpers/app';
import { repoOf } from '../helpers/fixtures';
import { capturingLogger } from '../helpers/log-capture';
import { useTestApp } from '../helpers/suite';
import { createUser, uniqueEmail } from '../helpers/activation';

function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** How long the suite lets a request that waits on the held mail enqueue hang before giving up (never a pass condition). */
const WATCHDOG_MS = 3000;

/**
 * POST /auth/resetpassword must not reveal whether an account exists, through its answer or its
 * timing: it answers first and does the lookup and the mail afterwards. Proven by order, not by
 * the clock: the mail enqueue is held open, and the answer must arrive while it is.
 */
describe('password reset answers before doing the work', () => {
  const lines: string[] = [];
  const t = useTestApp(() => {
    return { logger: capturingLogger(lines) };
  });

  let original: EmailServices['enqueue'];
  beforeAll(() => {
    original = t.app.ctx.email.enqueue;
  });
  afterEach(async () => {
    await t.app.ctx.auth.background.drain();
    t.app.ctx.email.enqueue = original;
  });

  const reset = (payload: Record<string, unknown>) => t.app.inject({ method: 'POST', url: '/auth/resetpassword', payload });
  const outboxTo = (email: string) => t.app.ctx.database.db.collection(OUTBOX_COLLECTION).find({ 'message.to': email }).toArray();

  test('the answer arrives while the mail enqueue of a known account is still held', async () => {
    const user = await createUser(t.app, { email: uniqueEmail('held') });
    const held = deferred();
    const entered = deferred();
    let released = false;
    t.app.ctx.email.enqueue = async (session, message) => {
      entered.resolve();
      await held.promise;
      return original(session, message);
    };
    const release = () => {
      released = true;
      held.resolve();
    };

    const answer = reset({ email: user.email });
    // If the handler waited on the work, it would hang on the held enqueue: release it after a
    // while so the suite ends, and record that the answer needed the release.
    let timer: NodeJS.Timeout | undefined;
    void entered.promise.then(() => {
      timer = setTimeout(() => !released && release(), WATCHDOG_MS);
    });
    const res: LightMyRequestResponse = await answer;
    const answeredWhileHeld = !released;
    expect(answeredWhileHeld).toBe(true);
    expect(res.statusCode).toBe(200);
    expect(await outboxTo(user.email as string)).toHaveLength(0);

    // The work is still done: once released, the link is stored and the mail queued.
    await entered.promise;
    release();
    await t.app.ctx.auth.background.drain();
    expect(await outboxTo(user.email as string)).toHaveLength(1);
    expect(await t.app.ctx.database.db.collection(ACTIVATIONS).countDocuments({ userId: user.id })).toBe(1);
    clearTimeout(timer);
  });

  test('known and unknown emails get the same status, content type and body', async () => {
    const project = await createResource<Project>(repoOf(t.app), { resourceType: 'Project', name: 'Timing clinic' });
    const known = await createUser(t.app, { email: uniqueEmail('known') });
    const scoped = await createUser(t.app, { email: uniqueEmail('scoped'), projectId: project.id });
    const answers = [];
    for (const payload of [
      { email: known.email },
      { email: uniqueEmail('unknown') },
      { email: scoped.email, projectId: project.id },
      { email: uniqueEmail('unknown'), projectId: project.id },
      { email: scoped.email },
    ]) {
      const res = await reset(payload);
      answers.push({ status: res.statusCode, type: res.headers['content-type'], body: res.body });
    }
    for (const answer of answers) {
      expect(answer).toEqual(answers[0]);
    }
    await t.app.ctx.auth.background.drain();
    expect(await outboxTo(known.email as string)).toHaveLength(1);
    expect(await outboxTo(scoped.email as string)).toHaveLength(1);
  });

  test('an error in the work is logged (without the address) and never reaches the caller; nothing is half-written', async () => {
    const user = await createUser(t.app, { email: uniqueEmail('broken') });
    await t.app.ctx.auth.background.drain();
    const before = await snapshotDatabase(t.app, { mailInFlight: true });
    t.app.ctx.email.enqueue = async () => {
      throw new Error(`mail queue unavailable for ${user.email}`);
    };
    const unknown = await reset({ email: uniqueEmail('unknown') });
    const linesBefore = lines.length;
    const res = await reset({ email: user.email });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe(unknown.body);
    await t.app.ctx.auth.background.drain();
    const written = lines.slice(linesBefore).join('\n');
    expect(written).toMatch(/background task \\"password reset\\" failed/);
    expect(written).not.toContain(user.email as string);
    // The transaction that would have stored the link rolled back with the failed enqueue.
    expect(await snapshotDatabase(t.app, { mailInFlight: true })).toEqual(before);
  });
});
