import type { ProjectMembership, User } from '@medplum/fhirtypes';
import { snapshotDatabase, TestClock } from '../helpers/app';
import { signIn } from '../helpers/auth';
import { createAccount, createMembership, createPractitioner } from '../helpers/fixtures';
import { createProjectAdmin, type ProjectAdmin } from '../helpers/fhir';
import { countCurrent, linkParts, outputs, postInvite, uniqueEmail } from '../helpers/invite';
import { inviteByMail, inviteExtension, lastMailTo, openLink, readMembership, resend, resendOutputs, revoke, setPassword, statusOf } from '../helpers/lifecycle';
import { useTestApp } from '../helpers/suite';

/**
 * Each transition of an invitation, over HTTP with a real SMTP server and a clock the test moves:
 * pending → accepted (through the link; by signing in), pending → expired → resend → accepted,
 * pending → revoked → the old link refused → re-invite → pending (the same membership).
 */
describe('the invite lifecycle', () => {
  const clock = new TestClock(new Date('2026-03-02T09:00:00.000Z'));
  const t = useTestApp({ clock, smtp: true });
  const TTL = 7 * 24 * 3600_000;
  const ADMIN_PASSWORD = 'second-admin-password-42';
  let harbour: ProjectAdmin;
  let riverside: ProjectAdmin;
  let harbourHeaders: Record<string, string>;
  let riversideHeaders: Record<string, string>;

  const emails = new Map<ProjectAdmin, string>();

  beforeAll(async () => {
    const [harbourEmail, riversideEmail] = [uniqueEmail('harbour-admin'), uniqueEmail('riverside-admin')];
    harbour = await createProjectAdmin(t.app, 'Harbour', harbourEmail, ADMIN_PASSWORD);
    riverside = await createProjectAdmin(t.app, 'Riverside', riversideEmail, ADMIN_PASSWORD);
    emails.set(harbour, harbourEmail).set(riverside, riversideEmail);
  });
  // The clock moves past the access tokens' lifetime: each test signs the administrators in anew.
  beforeEach(async () => {
    harbourHeaders = (await signIn(t.app, adminEmail(harbour), ADMIN_PASSWORD)).headers;
    riversideHeaders = (await signIn(t.app, adminEmail(riverside), ADMIN_PASSWORD)).headers;
  });
  const adminEmail = (admin: ProjectAdmin): string => emails.get(admin) as string;
  const h = () => harbourHeaders;
  const r = () => riversideHeaders;
  /** After moving the clock past the tokens' lifetime. */
  const renew = async (): Promise<void> => {
    harbourHeaders = (await signIn(t.app, adminEmail(harbour), ADMIN_PASSWORD)).headers;
  };

  test('pending with who and when, then accepted when the link sets the password', async () => {
    const email = uniqueEmail('ada');
    const now = clock.now();
    const { membership, link } = await inviteByMail(t.app, t.smtp, h(), harbour.projectId, email);
    expect(inviteExtension(membership)).toEqual({
      status: 'pending',
      invitedBy: { reference: `Practitioner/${harbour.practitionerId}` },
      invitedAt: now.toISOString(),
      lastSentAt: now.toISOString(),
      sendCount: 1,
      expiresAt: new Date(now.getTime() + TTL).toISOString(),
    });
    expect(statusOf(await readMembership(t.app, h(), membership.id))).toBe('pending');

    clock.advance(600_000);
    expect((await setPassword(t.app, link)).statusCode).toBe(200);
    const accepted = await readMembership(t.app, h(), membership.id);
    expect(inviteExtension(accepted)).toMatchObject({ status: 'accepted', acceptedAt: clock.now().toISOString(), sendCount: 1 });
    expect(inviteExtension(accepted)).not.toHaveProperty('expiresAt');
  });

  test('pending → accepted by signing in to the project (the account was activated through another invitation)', async () => {
    const email = uniqueEmail('sam');
    const inHarbour = await inviteByMail(t.app, t.smtp, h(), harbour.projectId, email);
    // Riverside's invite reclaims the unverified account: a fresh link is mailed, Harbour's dies.
    const inRiverside = await inviteByMail(t.app, t.smtp, r(), riverside.projectId, email);
    expect((await setPassword(t.app, inRiverside.link, 'sam sets a good password')).statusCode).toBe(200);
    expect(statusOf(await readMembership(t.app, r(), inRiverside.membership.id))).toBe('accepted');
    expect(statusOf(await readMembership(t.app, h(), inHarbour.membership.id))).toBe('pending');

    clock.advance(60_000);
    await signIn(t.app, email, 'sam sets a good password', harbour.projectId);
    const accepted = await readMembership(t.app, h(), inHarbour.membership.id);
    expect(inviteExtension(accepted)).toMatchObject({ status: 'accepted', acceptedAt: clock.now().toISOString() });
  });

  test('pending → expired when the link times out → resend → accepted', async () => {
    const email = uniqueEmail('eve');
    const { membership, link } = await inviteByMail(t.app, t.smtp, h(), harbour.projectId, email);
    clock.advance(TTL + 60_000);
    await renew();
    expect(statusOf(await readMembership(t.app, h(), membership.id))).toBe('expired');

    // The invitee is told plainly, with the project to ask, and nothing else.
    const page = await openLink(t.app, link);
    expect(page.statusCode).toBe(400);
    expect(page.body).toContain('This invitation to Harbour has expired. Ask an administrator of Harbour to send you a new one');
    expect(page.body).not.toContain(email);
    const refused = await setPassword(t.app, link);
    expect(refused.statusCode).toBe(400);
    expect(refused.json().issue[0].details.text).toContain('This invitation to Harbour has expired');

    const res = await resend(t.app, h(), membership.id);
    expect(res.statusCode).toBe(200);
    const out = resendOutputs(res);
    expect(out.emailStatus).toBe('queued');
    expect(out.activationUrl).toBeUndefined();
    expect(inviteExtension(out.membership)).toMatchObject({ status: 'pending', sendCount: 2, lastSentAt: clock.now().toISOString(), expiresAt: new Date(clock.now().getTime() + TTL).toISOString() });
    const fresh = linkParts(await lastMailTo(t.smtp, email, 2));
    expect(fresh).not.toEqual(link);
    expect((await setPassword(t.app, link)).statusCode).toBe(400);
    expect((await setPassword(t.app, fresh)).statusCode).toBe(200);
    expect(statusOf(await readMembership(t.app, h(), membership.id))).toBe('accepted');
  });

  test('pending → revoked: the link is refused at once, the project-scoped account removed; re-invite → pending, same membership', async () => {
    const email = uniqueEmail('pat');
    const { membership, link } = await inviteByMail(t.app, t.smtp, h(), harbour.projectId, email, { resourceType: 'Patient' });
    const userId = (membership.user?.reference as string).split('/')[1];

    const res = await revoke(t.app, h(), membership.id);
    expect(res.statusCode).toBe(200);
    const revoked = res.json() as ProjectMembership;
    expect(revoked).toMatchObject({ resourceType: 'ProjectMembership', id: membership.id, active: false });
    expect(statusOf(revoked)).toBe('revoked');
    // The never-activated project-scoped User went in the same transaction.
    expect(await countCurrent(t.app, 'User', { _id: userId })).toBe(0);

    const page = await openLink(t.app, link);
    expect(page.statusCode).toBe(400);
    expect(page.body).toContain('This invitation to Harbour was withdrawn. If you think you should have access, ask an administrator of Harbour');
    expect(page.body).not.toContain(email);
    expect(page.body).not.toContain('<form');
    const refused = await setPassword(t.app, link);
    expect(refused.statusCode).toBe(400);
    expect(refused.json().issue[0].details.text).toContain('was withdrawn');

    // Inviting the same person again reopens that membership: pending, active, a fresh link.
    const again = await inviteByMail(t.app, t.smtp, h(), harbour.projectId, email, { resourceType: 'Patient' });
    expect(again.res.statusCode).toBe(200);
    expect(again.membership.id).toBe(membership.id);
    expect(again.membership.active).toBe(true);
    expect(inviteExtension(again.membership)).toMatchObject({ status: 'pending', sendCount: 2 });
    expect(await countCurrent(t.app, 'ProjectMembership', { project: harbour.projectId, 'resource.profile.reference': membership.profile?.reference })).toBe(1);
    expect((await setPassword(t.app, link)).statusCode).toBe(400);
    expect((await setPassword(t.app, again.link)).statusCode).toBe(200);
    expect(statusOf(await readMembership(t.app, h(), membership.id))).toBe('accepted');
  });

  test('a server-scoped invitee keeps the account and other memberships when one invitation is revoked', async () => {
    const email = uniqueEmail('kim');
    const inHarbour = await inviteByMail(t.app, t.smtp, h(), harbour.projectId, email);
    const inRiverside = await inviteByMail(t.app, t.smtp, r(), riverside.projectId, email);
    expect((await revoke(t.app, h(), inHarbour.membership.id)).statusCode).toBe(200);
    const userId = (inHarbour.membership.user?.reference as string).split('/')[1];
    expect(await countCurrent(t.app, 'User', { _id: userId })).toBe(1);
    const other = await readMembership(t.app, r(), inRiverside.membership.id);
    expect(other.active).not.toBe(false);
    expect(statusOf(other)).toBe('pending');
    // Riverside's link still works.
    expect((await setPassword(t.app, inRiverside.link)).statusCode).toBe(200);
  });

  test('re-inviting an expired invitation reopens it with a fresh link (no upsert needed, no second membership)', async () => {
    const email = uniqueEmail('old');
    const first = await inviteByMail(t.app, t.smtp, h(), harbour.projectId, email);
    clock.advance(TTL + 1000);
    await renew();
    const again = await inviteByMail(t.app, t.smtp, h(), harbour.projectId, email);
    expect(again.membership.id).toBe(first.membership.id);
    expect(inviteExtension(again.membership)).toMatchObject({ status: 'pending', sendCount: 2, expiresAt: new Date(clock.now().getTime() + TTL).toISOString() });
    // A pending (not expired) invitation is still "already a member" without upsert.
    const twice = await postInvite(t.app, h(), harbour.projectId, { resourceType: 'Practitioner', firstName: 'Ada', lastName: 'Quill', email });
    expect(twice.statusCode).toBe(409);
    expect((await setPassword(t.app, again.link)).statusCode).toBe(200);
  });

  test('an invite of an active account (a password, its email verified) is accepted at once', async () => {
    const email = uniqueEmail('active');
    await createAccount(t.app, { email, password: 'already-has-a-password', emailVerified: true });
    const res = await postInvite(t.app, h(), harbour.projectId, { resourceType: 'Practitioner', firstName: 'Al', lastName: 'Ready', email });
    expect(res.statusCode).toBe(201);
    const extension = inviteExtension(outputs(res).membership);
    expect(extension).toMatchObject({ status: 'accepted', acceptedAt: clock.now().toISOString(), sendCount: 1 });
    expect(extension).not.toHaveProperty('expiresAt');
    // An unverified one is reclaimed for the owner of the email instead: pending, with a mailed link.
    const unverified = uniqueEmail('unverified');
    await createAccount(t.app, { email: unverified, password: 'chosen-by-someone-else' });
    const reclaimed = await inviteByMail(t.app, t.smtp, h(), harbour.projectId, unverified);
    expect(statusOf(reclaimed.membership)).toBe('pending');
  });

  test('a project-scoped invite with a password is accepted at once; sendEmail false hands the link back as pending', async () => {
    const withPassword = await postInvite(t.app, h(), harbour.projectId, { resourceType: 'Patient', firstName: 'Pw', lastName: 'Given', email: uniqueEmail('pw'), password: 'a chosen long password' });
    expect(statusOf(outputs(withPassword).membership)).toBe('accepted');
    const byHand = await postInvite(t.app, h(), harbour.projectId, { resourceType: 'Patient', firstName: 'By', lastName: 'Hand', email: uniqueEmail('hand'), sendEmail: false });
    expect(outputs(byHand).activationUrl).toBeDefined();
    expect(inviteExtension(outputs(byHand).membership)).toMatchObject({ status: 'pending', sendCount: 1 });
  });

  test('a wrong status answers 409 and writes nothing', async () => {
    const email = uniqueEmail('done');
    const { membership, link } = await inviteByMail(t.app, t.smtp, h(), harbour.projectId, email);
    expect((await setPassword(t.app, link)).statusCode).toBe(200);
    const revokeAccepted = await snapshotAround(() => revoke(t.app, h(), membership.id));
    expect(revokeAccepted.statusCode).toBe(409);
    expect(revokeAccepted.json().issue[0].details.text).toContain(`DELETE ProjectMembership/${membership.id}`);
    expect((await snapshotAround(() => resend(t.app, h(), membership.id))).statusCode).toBe(409);

    const other = await inviteByMail(t.app, t.smtp, h(), harbour.projectId, uniqueEmail('gone'));
    expect((await revoke(t.app, h(), other.membership.id)).statusCode).toBe(200);
    expect((await snapshotAround(() => revoke(t.app, h(), other.membership.id))).statusCode).toBe(409);
    const resendRevoked = await snapshotAround(() => resend(t.app, h(), other.membership.id));
    expect(resendRevoked.statusCode).toBe(409);
    expect(resendRevoked.json().issue[0].details.text).toContain('$invite');

    // A membership that never came from an invitation has nothing to resend or revoke.
    const plainUser = await createAccount(t.app, { email: uniqueEmail('plain'), password: 'plain-password-42' });
    const profile = await createPractitioner(t.app, harbour.projectId);
    const plain = await createMembership(t.app, { projectId: harbour.projectId, user: `User/${plainUser.id}`, profile: `Practitioner/${profile.id}` });
    expect((await snapshotAround(() => revoke(t.app, h(), plain.id))).statusCode).toBe(409);
    expect((await snapshotAround(() => resend(t.app, h(), plain.id))).statusCode).toBe(409);
  });

  test('the status is the server\'s: a PUT keeps the stored one, whatever the body says', async () => {
    const { membership } = await inviteByMail(t.app, t.smtp, h(), harbour.projectId, uniqueEmail('put'));
    clock.advance(TTL + 1000);
    await renew();
    const read = await readMembership(t.app, h(), membership.id);
    expect(statusOf(read)).toBe('expired');
    const forged = { ...read, extension: read.extension?.map((e) => (e.extension ? { ...e, extension: [{ url: 'status', valueCode: 'accepted' }] } : e)) };
    const put = await t.app.inject({ method: 'PUT', url: `/fhir/R4/ProjectMembership/${membership.id}`, headers: { ...h(), 'content-type': 'application/fhir+json' }, payload: forged });
    expect(put.statusCode).toBe(200);
    expect(inviteExtension(put.json())).toMatchObject({ status: 'expired', sendCount: 1 });
    const stored = await t.app.ctx.database.db.collection('ProjectMembership').findOne({ _id: membership.id as never });
    expect(inviteExtension((stored as unknown as { resource: ProjectMembership }).resource)?.status).toBe('pending');
  });

  test('DELETE of an accepted membership ends the member\'s sessions in the project', async () => {
    const email = uniqueEmail('member');
    const { membership, link } = await inviteByMail(t.app, t.smtp, h(), harbour.projectId, email);
    expect((await setPassword(t.app, link, 'member password here')).statusCode).toBe(200);
    const member = await signIn(t.app, email, 'member password here', harbour.projectId);
    expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers: member.headers })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'DELETE', url: `/fhir/R4/ProjectMembership/${membership.id}`, headers: h() })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers: member.headers })).statusCode).toBe(401);
    const user = await t.app.ctx.database.db.collection<{ _id: string; resource: User }>('User').findOne({ _id: (membership.user?.reference as string).split('/')[1] });
    expect(user?.resource.email).toBe(email);
  });

  /** Runs a request that must be refused and checks that the database is exactly as before. */
  async function snapshotAround(request: () => ReturnType<typeof revoke>): ReturnType<typeof revoke> {
    const before = await snapshotDatabase(t.app, { mailInFlight: true });
    const res = await request();
    expect(await snapshotDatabase(t.app, { mailInFlight: true })).toEqual(before);
    return res;
  }
});
