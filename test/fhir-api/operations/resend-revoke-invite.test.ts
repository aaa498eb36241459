import type { CapabilityStatement, OperationDefinition } from '@medplum/fhirtypes';
import { snapshotDatabase, TestClock } from '../../helpers/app';
import { signIn } from '../../helpers/auth';
import { createAccount, createMembership, createPractitioner } from '../../helpers/fixtures';
import { createProjectAdmin, type ProjectAdmin } from '../../helpers/fhir';
import { linkParts, mailsTo, outputs, postInvite, uniqueEmail } from '../../helpers/invite';
import { ids, inviteByMail, inviteExtension, lastMailTo, resend, resendOutputs, revoke, setPassword, statusOf } from '../../helpers/lifecycle';
import { useTestApp } from '../../helpers/suite';

/**
 * $resend-invite and $revoke-invite as a client uses them: who may call them, the rate limit,
 * Idempotency-Key, sendEmail false and the account-verification rule, the invite-status search
 * parameter and what the CapabilityStatement says.
 */
describe('ProjectMembership/$resend-invite and $revoke-invite', () => {
  const clock = new TestClock(new Date('2026-05-04T08:00:00.000Z'));
  const t = useTestApp({ clock, smtp: true });
  const PASSWORD = 'lifecycle-admin-password';
  let clinic: ProjectAdmin;
  let other: ProjectAdmin;
  const [clinicEmail, otherEmail] = [uniqueEmail('clinic-admin'), uniqueEmail('other-admin')];
  const h = () => clinic.session.headers;

  beforeAll(async () => {
    clinic = await createProjectAdmin(t.app, 'Clinic', clinicEmail, PASSWORD);
    other = await createProjectAdmin(t.app, 'Other', otherEmail, PASSWORD);
  });
  // Tests move the clock past the access tokens' lifetime: sign in anew before each.
  beforeEach(async () => {
    clinic.session = await signIn(t.app, clinicEmail, PASSWORD);
    other.session = await signIn(t.app, otherEmail, PASSWORD);
  });

  test('at most 5 resends per membership per hour: the 6th is 429 with Retry-After and writes nothing', async () => {
    const email = uniqueEmail('often');
    const { membership } = await inviteByMail(t.app, t.smtp, h(), clinic.projectId, email);
    for (let i = 0; i < 5; i++) {
      clock.advance(60_000);
      expect((await resend(t.app, h(), membership.id)).statusCode).toBe(200);
    }
    const before = await snapshotDatabase(t.app, { mailInFlight: true });
    const refused = await resend(t.app, h(), membership.id);
    expect(refused.statusCode).toBe(429);
    // The first resend leaves the rolling hour 56 minutes from now.
    expect(refused.headers['retry-after']).toBe(String(56 * 60));
    expect(refused.json().issue[0].code).toBe('throttled');
    expect(await snapshotDatabase(t.app, { mailInFlight: true })).toEqual(before);
    await mailsTo(t.smtp, email, 6);

    // Once the first resend left the hour, one more may go.
    clock.advance(56 * 60_000);
    expect((await resend(t.app, (await signIn(t.app, clinicEmail, PASSWORD)).headers, membership.id)).statusCode).toBe(200);
  });

  test('six resends at once: five are sent, one is refused', async () => {
    const email = uniqueEmail('burst');
    const { membership } = await inviteByMail(t.app, t.smtp, h(), clinic.projectId, email);
    const answers = await Promise.all(Array.from({ length: 6 }, () => resend(t.app, h(), membership.id)));
    expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 200, 200, 200, 200, 429]);
    const stored = await t.app.ctx.database.db.collection('ProjectMembership').findOne({ _id: membership.id as never });
    expect(inviteExtension((stored as never as { resource: typeof membership }).resource)?.sendCount).toBe(6);
  });

  test('Idempotency-Key: the same key answers the first result and sends one mail', async () => {
    const email = uniqueEmail('once');
    const { membership } = await inviteByMail(t.app, t.smtp, h(), clinic.projectId, email);
    const first = await resend(t.app, h(), membership.id, { idempotencyKey: 'resend-once-1' });
    const second = await resend(t.app, h(), membership.id, { idempotencyKey: 'resend-once-1' });
    expect([first.statusCode, second.statusCode]).toEqual([200, 200]);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.json()).toEqual(first.json());
    await mailsTo(t.smtp, email, 2);
    await new Promise((r) => setTimeout(r, 300));
    expect(t.smtp.messages.filter((m) => m.to && !Array.isArray(m.to) && m.to.text === email)).toHaveLength(2);
    // The same key with another input is refused.
    expect((await resend(t.app, h(), membership.id, { idempotencyKey: 'resend-once-1', sendEmail: false })).statusCode).toBe(422);
  });

  test('sendEmail false: the link is handed back for a project-scoped account; its replay carries it too', async () => {
    const email = uniqueEmail('byhand');
    const invited = await postInvite(t.app, h(), clinic.projectId, { resourceType: 'Patient', firstName: 'By', lastName: 'Hand', email, sendEmail: false });
    const membership = outputs(invited).membership as { id: string };
    const res = await resend(t.app, h(), membership.id, { sendEmail: false, idempotencyKey: 'byhand-1' });
    expect(res.statusCode).toBe(200);
    const out = resendOutputs(res);
    expect(out.emailStatus).toBe('not-sent');
    expect(out.activationUrl).toMatch(/^http:\/\/localhost:8103\/setpassword\//);
    expect(resendOutputs(await resend(t.app, h(), membership.id, { sendEmail: false, idempotencyKey: 'byhand-1' })).activationUrl).toBe(out.activationUrl);
    // The earlier link died; the new one works (and verifies nothing: it was not mailed).
    expect((await setPassword(t.app, linkParts(outputs(invited).activationUrl as string))).statusCode).toBe(400);
    expect((await setPassword(t.app, linkParts(out.activationUrl as string))).statusCode).toBe(200);
  });

  test('sendEmail false for a server-scoped account that is a member elsewhere: the link is mailed all the same', async () => {
    const email = uniqueEmail('elsewhere');
    const here = await inviteByMail(t.app, t.smtp, h(), clinic.projectId, email);
    await inviteByMail(t.app, t.smtp, other.session.headers, other.projectId, email);
    const res = await resend(t.app, h(), here.membership.id, { sendEmail: false });
    expect(res.statusCode).toBe(200);
    expect(resendOutputs(res)).toMatchObject({ emailStatus: 'queued' });
    expect(resendOutputs(res).activationUrl).toBeUndefined();
    expect(await lastMailTo(t.smtp, email, 3)).toContain('/setpassword/');
    // The only member of this project, never activated: the link may be handed back.
    const alone = uniqueEmail('alone');
    const mine = await inviteByMail(t.app, t.smtp, h(), clinic.projectId, alone);
    expect(resendOutputs(await resend(t.app, h(), mine.membership.id, { sendEmail: false })).activationUrl).toBeDefined();
  });

  test('an account activated elsewhere: the resend mails the sign-in notice (no link); sendEmail false is 409', async () => {
    const email = uniqueEmail('activated');
    const here = await inviteByMail(t.app, t.smtp, h(), clinic.projectId, email);
    const there = await inviteByMail(t.app, t.smtp, other.session.headers, other.projectId, email);
    expect((await setPassword(t.app, there.link)).statusCode).toBe(200);
    const before = await snapshotDatabase(t.app, { mailInFlight: true });
    const refused = await resend(t.app, h(), here.membership.id, { sendEmail: false });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().issue[0].expression).toEqual(['sendEmail']);
    expect(await snapshotDatabase(t.app, { mailInFlight: true })).toEqual(before);
    const res = await resend(t.app, h(), here.membership.id);
    expect(res.statusCode).toBe(200);
    expect(resendOutputs(res).emailStatus).toBe('queued');
    expect(inviteExtension(resendOutputs(res).membership)).toMatchObject({ status: 'pending', sendCount: 2 });
    expect(inviteExtension(resendOutputs(res).membership)).not.toHaveProperty('expiresAt');
    const notice = await lastMailTo(t.smtp, email, 3);
    expect(notice).not.toContain('/setpassword/');
    expect(notice).toContain('/signin');
  });

  test('access: a member is 403, another project\'s administrator and an unknown id 404, the super administrator may', async () => {
    const { membership } = await inviteByMail(t.app, t.smtp, h(), clinic.projectId, uniqueEmail('guarded'));
    const memberEmail = uniqueEmail('plain-member');
    const user = await createAccount(t.app, { email: memberEmail, password: PASSWORD });
    const profile = await createPractitioner(t.app, clinic.projectId);
    await createMembership(t.app, { projectId: clinic.projectId, user: `User/${user.id}`, profile: `Practitioner/${profile.id}` });
    const member = await signIn(t.app, memberEmail, PASSWORD);

    const before = await snapshotDatabase(t.app, { mailInFlight: true });
    for (const call of [resend, revoke]) {
      expect((await call(t.app, member.headers, membership.id)).statusCode).toBe(403);
      const foreign = await call(t.app, other.session.headers, membership.id);
      expect(foreign.statusCode).toBe(404);
      expect(foreign.json().issue[0].expression).toBeUndefined();
      expect((await call(t.app, h(), 'no-such-membership')).statusCode).toBe(404);
      expect((await call(t.app, {}, membership.id)).statusCode).toBe(401);
    }
    // The percent-encoded form reaches the same checks.
    expect((await t.app.inject({ method: 'POST', url: `/fhir/R4/ProjectMembership/${membership.id}/%24revoke-invite`, headers: { ...member.headers, 'content-type': 'application/fhir+json' }, payload: { resourceType: 'Parameters' } })).statusCode).toBe(403);
    expect(await snapshotDatabase(t.app, { mailInFlight: true })).toEqual(before);

    const root = await signIn(t.app);
    expect((await resend(t.app, root.headers, membership.id)).statusCode).toBe(200);
    expect((await revoke(t.app, root.headers, membership.id)).statusCode).toBe(200);
  });

  test('bad input is a 400 naming the parameter, and writes nothing', async () => {
    const { membership } = await inviteByMail(t.app, t.smtp, h(), clinic.projectId, uniqueEmail('input'));
    const before = await snapshotDatabase(t.app, { mailInFlight: true });
    const res = await t.app.inject({
      method: 'POST',
      url: `/fhir/R4/ProjectMembership/${membership.id}/$resend-invite`,
      headers: { ...h(), 'content-type': 'application/fhir+json' },
      payload: { resourceType: 'Parameters', parameter: [{ name: 'sendEmail', valueString: 'no' }] },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().issue[0].expression).toEqual(['sendEmail']);
    const unknown = await t.app.inject({ method: 'POST', url: `/fhir/R4/ProjectMembership/${membership.id}/$revoke-invite`, headers: { ...h(), 'content-type': 'application/json' }, payload: { reason: 'x' } });
    expect(unknown.statusCode).toBe(400);
    expect(await snapshotDatabase(t.app, { mailInFlight: true })).toEqual(before);
  });

  test('search: invite-status=pending, accepted, expired and revoked, with project=', async () => {
    const searchEmail = uniqueEmail('search-admin');
    const project = await createProjectAdmin(t.app, 'Search', searchEmail, PASSWORD);
    const s = () => project.session.headers;
    const pending = await inviteByMail(t.app, t.smtp, s(), project.projectId, uniqueEmail('s-pending'));
    const accepted = await inviteByMail(t.app, t.smtp, s(), project.projectId, uniqueEmail('s-accepted'));
    expect((await setPassword(t.app, accepted.link)).statusCode).toBe(200);
    const revoked = await inviteByMail(t.app, t.smtp, s(), project.projectId, uniqueEmail('s-revoked'));
    expect((await revoke(t.app, s(), revoked.membership.id)).statusCode).toBe(200);
    const expiring = await inviteByMail(t.app, t.smtp, s(), project.projectId, uniqueEmail('s-expiring'));
    // Move to just past the expiry of `expiring` (every link here was issued at the same time).
    clock.advance(7 * 24 * 3600_000);
    project.session = await signIn(t.app, searchEmail, PASSWORD);
    other.session = await signIn(t.app, otherEmail, PASSWORD);
    // Invited now: pending, not expired.
    const fresh = await inviteByMail(t.app, t.smtp, s(), project.projectId, uniqueEmail('s-fresh'));
    const search = (query: string) => t.app.inject({ method: 'GET', url: `/fhir/R4/ProjectMembership?project=Project/${project.projectId}&${query}`, headers: s() });

    expect(ids(await search('invite-status=pending'))).toEqual([fresh.membership.id]);
    expect(ids(await search('invite-status=expired'))).toEqual([pending.membership.id, expiring.membership.id].sort());
    expect(ids(await search('invite-status=accepted'))).toEqual([accepted.membership.id]);
    expect(ids(await search('invite-status=revoked'))).toEqual([revoked.membership.id]);
    expect(ids(await search('invite-status=pending,expired'))).toEqual([fresh.membership.id, pending.membership.id, expiring.membership.id].sort());
    // The owner's own membership did not come from an invite: :missing finds it, :not excludes the rest.
    expect(ids(await search('invite-status:missing=true'))).toEqual([project.membershipId]);
    expect(ids(await search('invite-status:not=expired&invite-status:missing=false'))).toEqual([fresh.membership.id, accepted.membership.id, revoked.membership.id].sort());
    // Found ones show the status they were found by.
    const expiredBundle = (await search('invite-status=expired')).json() as { entry: { resource: never }[] };
    expect(expiredBundle.entry.map((e) => statusOf(e.resource))).toEqual(['expired', 'expired']);
    // Another project's search does not see these.
    const foreign = await t.app.inject({ method: 'GET', url: `/fhir/R4/ProjectMembership?project=Project/${project.projectId}&invite-status=expired`, headers: other.session.headers });
    expect(foreign.statusCode).toBe(200);
    expect(ids(foreign)).toEqual([]);
  });

  test('the CapabilityStatement lists both operations and the search parameter; the definitions are published', async () => {
    const cs = (await t.app.inject({ method: 'GET', url: '/fhir/R4/metadata' })).json() as CapabilityStatement;
    const membership = cs.rest?.[0].resource?.find((r) => r.type === 'ProjectMembership');
    expect(membership?.operation?.map((o) => o.name).sort()).toEqual(['resend-invite', 'revoke-invite', 'validate']);
    expect(membership?.searchParam?.find((p) => p.name === 'invite-status')).toMatchObject({
      type: 'token',
      definition: 'https://fhir-invite-server.example/fhir/SearchParameter/ProjectMembership-invite-status',
    });
    for (const id of ['ProjectMembership-resend-invite', 'ProjectMembership-revoke-invite']) {
      const res = await t.app.inject({ method: 'GET', url: `/fhir/R4/OperationDefinition/${id}` });
      expect(res.statusCode).toBe(200);
      expect(res.json() as OperationDefinition).toMatchObject({ id, resource: ['ProjectMembership'], instance: true });
    }
    expect(t.app.ctx.definitions.profiles.get('https://fhir-invite-server.example/fhir/StructureDefinition/invite-status')).toMatchObject({ type: 'Extension', kind: 'complex-type' });
  });
});
