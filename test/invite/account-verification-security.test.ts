import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { User } from '@medplum/fhirtypes';
import { buildApp } from '../../src/app';
import { signIn, type SignedIn } from '../helpers/auth';
import { useTestApp } from '../helpers/suite';
import { createMember, createProject, uniqueEmail } from '../helpers/invite';
import { outputs, postInvite } from '../helpers/invite';
import { linkParts, mailsTo } from '../helpers/invite';
import { codeAt, secretOf } from '../helpers/mfa';

const realClock = { now: (): Date => new Date() };

const victimPerson = { resourceType: 'Practitioner', firstName: 'Vic', lastName: 'Tim' };
const CHOSEN_BY_ADMIN_A = 'admin alpha chose this one';
const CHOSEN_BY_OWNER = 'only the owner knows this';

/**
 * The account-verification rule (README, operating notes): a server-scoped account is verified
 * only through a link mailed to its address; an unverified one invited into another project is
 * reclaimed for the owner of the email (password and sessions of whoever activated it end, every
 * earlier link dies, a fresh link is mailed).
 */
describe('invite: account pre-hijack across projects', () => {
  const t = useTestApp({ smtp: true });

  const setPassword = (link: { id: string; secret: string }, password: string): Promise<LightMyRequestResponse> =>
    t.app.inject({ method: 'POST', url: '/auth/setpassword', payload: { ...link, password } });
  const loginStatus = async (email: string, password: string): Promise<number> =>
    (await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password, scope: 'openid' } })).statusCode;
  const me = (session: SignedIn): Promise<LightMyRequestResponse> => t.app.inject({ method: 'GET', url: '/auth/me', headers: session.headers });
  const refresh = (session: SignedIn): Promise<LightMyRequestResponse> =>
    t.app.inject({
      method: 'POST',
      url: '/oauth2/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: session.refreshToken as string }).toString(),
    });
  const storedUser = async (email: string): Promise<User & { id: string }> =>
    (await t.app.ctx.database.db.collection('User').findOne({ 'resource.email': email, 'resource.project': { $exists: false } }))?.resource as User & { id: string };

  /** A project with its own administrator, signed in to it. */
  async function projectWithAdmin(name: string): Promise<{ id: string; admin: SignedIn }> {
    const project = await createProject(t.app, { name });
    const admin = await createMember(t.app, project.id, { admin: true });
    return { id: project.id, admin: await signIn(t.app, admin.email, admin.password, project.id) };
  }

  test('the attack: A pre-activates the victim with its own password; after B invites, only the owner of the email gets in', async () => {
    const alpha = await projectWithAdmin('Alpha');
    const beta = await projectWithAdmin('Beta');
    const victim = uniqueEmail('victim');

    // Admin A invites the victim as a server-scoped user without mail and keeps the link...
    const a = await postInvite(t.app, alpha.admin.headers, alpha.id, { ...victimPerson, email: victim, sendEmail: false });
    expect(a.statusCode).toBe(201);
    const handedToA = linkParts(outputs(a).activationUrl as string);
    // ...activates it with a password of its choosing and signs in as the victim.
    expect((await setPassword(handedToA, CHOSEN_BY_ADMIN_A)).statusCode).toBe(200);
    expect((await storedUser(victim)).emailVerified).not.toBe(true);
    const hijacked = await signIn(t.app, victim, CHOSEN_BY_ADMIN_A, alpha.id);
    expect((await me(hijacked)).statusCode).toBe(200);

    // Admin B invites the same email into its project.
    const b = await postInvite(t.app, beta.admin.headers, beta.id, { ...victimPerson, email: victim });
    expect(b.statusCode).toBe(201);
    expect(outputs(b)).toMatchObject({ emailStatus: 'queued' });
    expect(outputs(b).activationUrl).toBeUndefined();
    expect(outputs(b).user.reference).toBe(`User/${(await storedUser(victim)).id}`);

    // A's sessions as the victim are over at once.
    expect((await me(hijacked)).statusCode).toBe(401);
    expect((await refresh(hijacked)).statusCode).toBe(400);

    // The victim activates through the mail B caused.
    const [mail] = await mailsTo(t.smtp, victim);
    expect(mail.subject).toBe('You are invited to Beta');
    expect((await setPassword(linkParts(mail.text as string), CHOSEN_BY_OWNER)).statusCode).toBe(200);
    expect((await storedUser(victim)).emailVerified).toBe(true);

    // A's password no longer signs in, and A's old link is dead.
    expect(await loginStatus(victim, CHOSEN_BY_ADMIN_A)).toBe(400);
    expect((await setPassword(handedToA, 'admin alpha tries again')).statusCode).toBe(400);
    expect(await loginStatus(victim, 'admin alpha tries again')).toBe(400);
    // The owner signs in to B (and to A, where they are also a member).
    await expect(signIn(t.app, victim, CHOSEN_BY_OWNER, beta.id)).resolves.toHaveProperty('accessToken');
    await expect(signIn(t.app, victim, CHOSEN_BY_OWNER, alpha.id)).resolves.toHaveProperty('accessToken');
  });

  test('a link A kept unused dies when B invites, even when B asks for no mail; the mailed link works', async () => {
    const alpha = await projectWithAdmin('Alpha 2');
    const beta = await projectWithAdmin('Beta 2');
    const victim = uniqueEmail('victim');
    const a = await postInvite(t.app, alpha.admin.headers, alpha.id, { ...victimPerson, email: victim, sendEmail: false });
    const keptByA = linkParts(outputs(a).activationUrl as string);

    const b = await postInvite(t.app, beta.admin.headers, beta.id, { ...victimPerson, email: victim, sendEmail: false });
    expect(b.statusCode).toBe(201);
    // The answer says the mail went out, and hands out no link.
    expect(outputs(b)).toMatchObject({ emailStatus: 'queued' });
    expect(outputs(b).activationUrl).toBeUndefined();
    expect(b.body).not.toMatch(/setpassword/);

    const stale = await setPassword(keptByA, CHOSEN_BY_ADMIN_A);
    expect(stale.statusCode).toBe(400);
    expect(stale.json().issue[0].details.text).toMatch(/newer link/);
    const [mail] = await mailsTo(t.smtp, victim);
    expect((await setPassword(linkParts(mail.text as string), CHOSEN_BY_OWNER)).statusCode).toBe(200);
    expect(await loginStatus(victim, CHOSEN_BY_ADMIN_A)).toBe(400);
    expect((await storedUser(victim)).emailVerified).toBe(true);
  });

  test('the same project inviting its unverified member again keeps the account as it is', async () => {
    const alpha = await projectWithAdmin('Alpha 3');
    const person = uniqueEmail('member');
    const a = await postInvite(t.app, alpha.admin.headers, alpha.id, { ...victimPerson, email: person, sendEmail: false });
    expect((await setPassword(linkParts(outputs(a).activationUrl as string), CHOSEN_BY_ADMIN_A)).statusCode).toBe(200);
    const session = await signIn(t.app, person, CHOSEN_BY_ADMIN_A, alpha.id);
    const credentials = await t.app.ctx.database.db.collection('credentials').findOne({ _id: (await storedUser(person)).id as never });

    const again = await postInvite(t.app, alpha.admin.headers, alpha.id, { ...victimPerson, email: person, sendEmail: false, upsert: true, admin: true });
    expect(again.statusCode).toBe(200);
    expect(outputs(again)).toMatchObject({ emailStatus: 'skipped' });
    expect(await t.app.ctx.database.db.collection('credentials').findOne({ _id: (await storedUser(person)).id as never })).toEqual(credentials);
    expect((await me(session)).statusCode).toBe(200);
    expect(await loginStatus(person, CHOSEN_BY_ADMIN_A)).toBe(200);
  });

  test('a verified account invited into another project keeps its password and its sessions', async () => {
    const alpha = await projectWithAdmin('Alpha 4');
    const beta = await projectWithAdmin('Beta 4');
    const person = uniqueEmail('verified');
    expect((await postInvite(t.app, alpha.admin.headers, alpha.id, { ...victimPerson, email: person })).statusCode).toBe(201);
    const [mail] = await mailsTo(t.smtp, person);
    expect((await setPassword(linkParts(mail.text as string), CHOSEN_BY_OWNER)).statusCode).toBe(200);
    const session = await signIn(t.app, person, CHOSEN_BY_OWNER, alpha.id);
    const credentials = await t.app.ctx.database.db.collection('credentials').findOne({ _id: (await storedUser(person)).id as never });

    const b = await postInvite(t.app, beta.admin.headers, beta.id, { ...victimPerson, email: person, sendEmail: false });
    expect(b.statusCode).toBe(201);
    expect(outputs(b)).toMatchObject({ emailStatus: 'skipped' });
    expect(await t.app.ctx.database.db.collection('credentials').findOne({ _id: (await storedUser(person)).id as never })).toEqual(credentials);
    expect((await me(session)).statusCode).toBe(200);
    await expect(signIn(t.app, person, CHOSEN_BY_OWNER, beta.id)).resolves.toHaveProperty('accessToken');
  });

  test('a mailed password reset proves the address too: the account is then verified and kept on the next invite', async () => {
    const alpha = await projectWithAdmin('Alpha 5');
    const beta = await projectWithAdmin('Beta 5');
    const person = uniqueEmail('resetter');
    const a = await postInvite(t.app, alpha.admin.headers, alpha.id, { ...victimPerson, email: person, sendEmail: false });
    expect((await setPassword(linkParts(outputs(a).activationUrl as string), CHOSEN_BY_ADMIN_A)).statusCode).toBe(200);
    // A link handed to an administrator sets a password but proves nothing about the address.
    expect((await storedUser(person)).emailVerified).not.toBe(true);

    expect((await t.app.inject({ method: 'POST', url: '/auth/resetpassword', payload: { email: person } })).statusCode).toBe(200);
    const [reset] = await mailsTo(t.smtp, person);
    expect((await setPassword(linkParts(reset.text as string), CHOSEN_BY_OWNER)).statusCode).toBe(200);
    expect((await storedUser(person)).emailVerified).toBe(true);

    const b = await postInvite(t.app, beta.admin.headers, beta.id, { ...victimPerson, email: person, sendEmail: false });
    expect(outputs(b)).toMatchObject({ emailStatus: 'skipped' });
    expect(await loginStatus(person, CHOSEN_BY_OWNER)).toBe(200);
  });

  test('an MFA secret A enrolled on the unverified account is cleared with its password: the owner enrolls their own', async () => {
    const alpha = await projectWithAdmin('Alpha 6');
    const beta = await projectWithAdmin('Beta 6');
    const victim = uniqueEmail('victim');
    const a = await postInvite(t.app, alpha.admin.headers, alpha.id, { ...victimPerson, email: victim, sendEmail: false });
    expect((await setPassword(linkParts(outputs(a).activationUrl as string), CHOSEN_BY_ADMIN_A)).statusCode).toBe(200);
    const hijacked = await signIn(t.app, victim, CHOSEN_BY_ADMIN_A, alpha.id);
    const status = await t.app.inject({ method: 'GET', url: '/auth/mfa/status', headers: hijacked.headers });
    const secretOfA = secretOf(status.json().enrollUri as string);
    const enroll = await t.app.inject({ method: 'POST', url: '/auth/mfa/enroll', headers: hijacked.headers, payload: { token: codeAt(secretOfA, realClock) } });
    expect(enroll.statusCode).toBe(200);

    expect((await postInvite(t.app, beta.admin.headers, beta.id, { ...victimPerson, email: victim })).statusCode).toBe(201);
    const after = await t.app.ctx.database.db.collection('credentials').findOne({ _id: (await storedUser(victim)).id as never });
    expect(after).not.toHaveProperty('passwordHash');
    expect(after).not.toHaveProperty('mfaSecret');

    const [mail] = await mailsTo(t.smtp, victim);
    expect((await setPassword(linkParts(mail.text as string), CHOSEN_BY_OWNER)).statusCode).toBe(200);
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: victim, password: CHOSEN_BY_OWNER, projectId: beta.id, scope: 'openid' } });
    expect(login.statusCode).toBe(200);
    // Not A's authenticator: the owner is asked to set up their own.
    expect(login.json()).toMatchObject({ mfaEnrollRequired: true });
    expect(secretOf(login.json().enrollUri as string)).not.toBe(secretOfA);
  });

  describe('two projects inviting the unverified account at once, on two server instances', () => {
    let second: FastifyInstance;
    beforeAll(async () => {
      // As in invite-concurrency.test.ts: on the embedded engine both instances share one database
      // handle (its transaction lock) but nothing else; on MongoDB each has its own connection.
      second = await buildApp(t.config, { logger: false, ...(process.env.MONGODB_URI ? {} : { database: t.app.ctx.database }) });
      await second.ready();
    });
    afterAll(async () => {
      await second.close();
    });

    test("both invites succeed; A's password and link die; only mailed links remain and one of them opens the account", async () => {
      const alpha = await projectWithAdmin('Alpha 7');
      const beta = await projectWithAdmin('Beta 7');
      const gamma = await projectWithAdmin('Gamma 7');
      const victim = uniqueEmail('victim');
      const a = await postInvite(t.app, alpha.admin.headers, alpha.id, { ...victimPerson, email: victim, sendEmail: false });
      const handedToA = linkParts(outputs(a).activationUrl as string);
      expect((await setPassword(handedToA, CHOSEN_BY_ADMIN_A)).statusCode).toBe(200);

      const [b, c] = await Promise.all([
        postInvite(t.app, beta.admin.headers, beta.id, { ...victimPerson, email: victim, sendEmail: false }),
        postInvite(second, gamma.admin.headers, gamma.id, { ...victimPerson, email: victim, sendEmail: false }),
      ]);
      expect([b.statusCode, c.statusCode]).toEqual([201, 201]);
      for (const res of [b, c]) {
        expect(outputs(res)).toMatchObject({ emailStatus: 'queued' });
        expect(outputs(res).activationUrl).toBeUndefined();
      }
      expect(await loginStatus(victim, CHOSEN_BY_ADMIN_A)).toBe(400);
      expect((await setPassword(handedToA, 'admin alpha tries again')).statusCode).toBe(400);

      const mails = await mailsTo(t.smtp, victim, 2);
      const results = [];
      for (const mail of mails) {
        results.push((await setPassword(linkParts(mail.text as string), CHOSEN_BY_OWNER)).statusCode);
      }
      expect(results).toContain(200);
      for (const project of [alpha, beta, gamma]) {
        await expect(signIn(t.app, victim, CHOSEN_BY_OWNER, project.id)).resolves.toHaveProperty('accessToken');
      }
    });
  });
});
