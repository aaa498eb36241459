import type { Project } from '@medplum/fhirtypes';
import { ACTIVATIONS, type ActivationDoc } from '../../src/accounts/activation';
import { CREDENTIALS } from '../../src/accounts/credentials';
import { verifyPassword } from '../../src/accounts/passwords';
import { createResource } from '../../src/fhir/repository';
import { snapshotDatabase } from '../helpers/app';
import { useTestApp } from '../helpers/suite';
import { repoOf } from '../helpers/fixtures';
import { createUser, uniqueEmail } from '../helpers/activation';

describe('POST /auth/resetpassword', () => {
  const t = useTestApp({ smtp: true });

  /** The request, then the work it starts after answering (see reset-password-timing.test.ts). */
  const reset = async (payload: Record<string, unknown>) => {
    const res = await t.app.inject({ method: 'POST', url: '/auth/resetpassword', payload });
    await t.app.ctx.auth.background.drain();
    return res;
  };
  const activationsOf = (userId: string) => t.app.ctx.database.db.collection<ActivationDoc>(ACTIVATIONS).find({ userId }).toArray();

  test('a known email gets a working reset link by mail', async () => {
    const user = await createUser(t.app, { email: uniqueEmail('reset') });
    // Counted before the request: the mail may arrive before the activation is read back.
    const mailsBefore = t.smtp.messages.length;
    const res = await reset({ email: (user.email as string).toUpperCase() });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'information', details: { text: expect.stringMatching(/If the account exists/) } }] });

    const [activation] = await activationsOf(user.id as string);
    expect(activation).toMatchObject({ kind: 'reset' });

    const mails = await t.smtp.waitFor(mailsBefore + 1);
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
    // The dispatcher may be delivering the known user's mail meanwhile.
    const snapshot = () => snapshotDatabase(t.app, { mailInFlight: true });
    const before = await snapshot();
    const unknownRes = await reset({ email: uniqueEmail('nobody') });
    expect(unknownRes.statusCode).toBe(knownRes.statusCode);
    expect(unknownRes.body).toBe(knownRes.body);
    expect(await snapshot()).toEqual(before);
  });

  test('a project-scoped account is found only with its projectId', async () => {
    const project = await createResource<Project>(repoOf(t.app), { resourceType: 'Project', name: 'Reset clinic' });
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
