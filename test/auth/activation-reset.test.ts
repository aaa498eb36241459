import type { Project } from '@medplum/fhirtypes';
import { ACTIVATIONS, type ActivationDoc } from '../../src/auth/activation-store';
import { CREDENTIALS } from '../../src/auth/credentials';
import { verifyPassword } from '../../src/auth/password-hash';
import { createResource } from '../../src/fhir/repository';
import { createTestApp, type TestApp } from '../helpers/app';
import { startTestSmtp, type TestSmtp } from '../helpers/smtp';
import { createUser, snapshot, uniqueEmail } from './activation-fixtures';

describe('POST /auth/resetpassword', () => {
  let t: TestApp;
  let smtp: TestSmtp;

  beforeAll(async () => {
    smtp = await startTestSmtp();
    t = await createTestApp({ env: { SMTP_URL: smtp.url } });
  });
  afterAll(async () => {
    await t.close();
    await smtp.stop();
  });

  const reset = (payload: Record<string, unknown>) => t.app.inject({ method: 'POST', url: '/auth/resetpassword', payload });
  const activationsOf = (userId: string) => t.app.ctx.database.db.collection<ActivationDoc>(ACTIVATIONS).find({ userId }).toArray();

  test('a known email gets a working reset link by mail', async () => {
    const user = await createUser(t.app, { email: uniqueEmail('reset') });
    const res = await reset({ email: (user.email as string).toUpperCase() });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'information', details: { text: expect.stringMatching(/If the account exists/) } }] });

    const [activation] = await activationsOf(user.id as string);
    expect(activation).toMatchObject({ kind: 'reset' });

    const mails = await smtp.waitFor(smtp.messages.length + 1);
    const mail = mails.find((m) => m.text?.includes(activation._id));
    expect(mail).toBeDefined();
    expect(mail?.subject).toBe('Set a new password');
    const url = /(http:\/\/localhost:8103\/setpassword\/[A-Za-z0-9_-]+\/[A-Za-z0-9_-]+)/.exec(mail?.text ?? '')?.[1] as string;
    expect(url).toBeDefined();
    expect(mail?.html).toContain('Choose a new password');

    const path = new URL(url).pathname;
    const page = await t.app.inject({ method: 'GET', url: path });
    expect(page.statusCode).toBe(200);
    const [, , id, secret] = path.split('/');
    const set = await t.app.inject({ method: 'POST', url: '/auth/setpassword', payload: { id, secret, password: 'a brand new passphrase' } });
    expect(set.statusCode).toBe(200);
    const creds = await t.app.ctx.database.db.collection<{ _id: string; passwordHash: string }>(CREDENTIALS).findOne({ _id: user.id as string });
    expect(await verifyPassword(creds?.passwordHash as string, 'a brand new passphrase')).toBe(true);
  });

  test('an unknown email gets the same answer and nothing is written', async () => {
    const known = await createUser(t.app);
    const knownRes = await reset({ email: known.email });
    // The dispatcher may be delivering the known user's mail meanwhile: compare outbox ids only.
    const outboxIds = async () => (await t.app.ctx.database.db.collection('outbox').find({}).toArray()).map((d) => d._id).sort();
    const { outbox: _outbox, ...before } = await snapshot(t.app);
    const outboxBefore = await outboxIds();
    const unknownRes = await reset({ email: uniqueEmail('nobody') });
    expect(unknownRes.statusCode).toBe(knownRes.statusCode);
    expect(unknownRes.body).toBe(knownRes.body);
    const { outbox: _after, ...after } = await snapshot(t.app);
    expect(after).toEqual(before);
    expect(await outboxIds()).toEqual(outboxBefore);
  });

  test('a project-scoped account is found only with its projectId', async () => {
    const project = await createResource<Project>({ database: t.app.ctx.database, clock: t.app.ctx.clock }, { resourceType: 'Project', name: 'Reset clinic' });
    const user = await createUser(t.app, { projectId: project.id });
    expect((await reset({ email: user.email })).statusCode).toBe(200);
    expect(await activationsOf(user.id as string)).toHaveLength(0);
    expect((await reset({ email: user.email, projectId: 'some-other-project' })).statusCode).toBe(200);
    expect(await activationsOf(user.id as string)).toHaveLength(0);
    expect((await reset({ email: user.email, projectId: project.id })).statusCode).toBe(200);
    expect(await activationsOf(user.id as string)).toHaveLength(1);
  });

  test('a second request supersedes the first link', async () => {
    const user = await createUser(t.app);
    await reset({ email: user.email });
    await reset({ email: user.email });
    const activations = await activationsOf(user.id as string);
    expect(activations).toHaveLength(2);
    expect(activations.filter((a) => a.supersededAt === undefined)).toHaveLength(1);
  });

  test('an invalid email or body is refused naming the field', async () => {
    const res = await reset({ email: 'not-an-email' });
    expect(res.statusCode).toBe(400);
    expect(res.json().issue[0]).toMatchObject({ expression: ['email'] });
    expect((await reset({ email: { $ne: null } })).statusCode).toBe(400);
    expect((await reset({})).statusCode).toBe(400);
  });
});
