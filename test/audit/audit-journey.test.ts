import type { AuditEvent } from '@medplum/fhirtypes';
import type { LightMyRequestResponse } from 'fastify';
import { SUBTYPE_SYSTEM } from '../../src/audit/audit-event';
import { AUDIT_COLLECTION, type StoredAuditEvent } from '../../src/audit/audit-store';
import { TestClock } from '../helpers/app';
import { form } from '../helpers/auth';
import { createProjectAdmin } from '../helpers/fhir';
import { outputs, postInvite, uniqueEmail } from '../helpers/invite';
import { codeAt, exchangeCode, ResponseLog, secretOf, startLogin, wrongCodeAt } from '../helpers/mfa';
import { useTestApp } from '../helpers/suite';

/**
 * A whole journey, each step checked for exactly one event of its kind with the right agent,
 * entity and outcome: invite, resend, activation, sign-in, refresh-token reuse, MFA enrolled,
 * refused, verified, locked and disabled, client creation, password reset requested and
 * completed, revoke. Then every stored event (the raw collection, not the API) is scanned for
 * every secret the journey handled.
 */

const STEP_MS = 30_000;
const PASSWORD = 'journey-password-one-42';
const NEW_PASSWORD = 'journey-password-two-42';

describe('the audit trail of a whole journey', () => {
  const clock = new TestClock(new Date());
  const t = useTestApp({ smtp: true, clock });
  const log = new ResponseLog();
  const secrets: string[] = [PASSWORD, NEW_PASSWORD];
  const codes: string[] = [];
  let owner: Awaited<ReturnType<typeof createProjectAdmin>>;

  beforeAll(async () => {
    owner = await createProjectAdmin(t.app, 'Journey', uniqueEmail('journey-owner'));
  });

  const kindOf = (e: AuditEvent): string | undefined => e.subtype?.find((s) => s.system === SUBTYPE_SYSTEM)?.code;
  const all = async (): Promise<StoredAuditEvent[]> => {
    await t.app.ctx.audit.drain();
    return t.app.ctx.database.db.collection<StoredAuditEvent>(AUDIT_COLLECTION).find({}).toArray();
  };
  /** The events of a kind about a reference (entity or agent), oldest first. */
  const about = async (kind: string, reference: string): Promise<StoredAuditEvent[]> =>
    (await all()).filter((d) => kindOf(d.resource) === kind && JSON.stringify([d.resource.entity, d.resource.agent]).includes(`"${reference}"`)).sort((a, b) => a.lastUpdated.getTime() - b.lastUpdated.getTime());
  const requestorOf = (d: StoredAuditEvent) => d.resource.agent.find((a) => a.requestor === true);
  const keep = (...values: (string | undefined)[]) => secrets.push(...values.filter((v): v is string => typeof v === 'string' && v.length > 0));
  const linkOf = (url: string): { id: string; secret: string } => {
    const [, , id, secret] = new URL(url).pathname.split('/');
    keep(secret);
    return { id, secret };
  };
  const tokensOf = (res: LightMyRequestResponse): { access_token: string; refresh_token: string } => {
    const body = res.json() as { access_token: string; refresh_token: string };
    keep(body.access_token, body.refresh_token);
    return body;
  };

  let email: string;
  let userRef: string;
  let membershipId: string;
  let totpSecret: string;
  let headers: Record<string, string>;

  test('invite, resend and activation: one event each, by the admin, about the membership; the activation by the invitee', async () => {
    email = uniqueEmail('journey-invitee');
    const invited = await postInvite(t.app, owner.session.headers, owner.projectId, { resourceType: 'Practitioner', firstName: 'Journey', lastName: 'Invitee', email, sendEmail: false });
    expect(invited.statusCode).toBe(201);
    const out = outputs(invited);
    membershipId = out.membership.id as string;
    userRef = out.user.reference;
    linkOf(out.activationUrl as string);
    const [invite, ...more] = await about('invite', `ProjectMembership/${membershipId}`);
    expect(more).toEqual([]);
    expect(requestorOf(invite)?.who?.reference).toBe(`Practitioner/${owner.practitionerId}`);

    const resent = await t.app.inject({ method: 'POST', url: `/fhir/R4/ProjectMembership/${membershipId}/$resend-invite`, headers: { ...owner.session.headers, 'content-type': 'application/fhir+json' }, payload: { resourceType: 'Parameters', parameter: [{ name: 'sendEmail', valueBoolean: false }] } });
    expect(resent.statusCode).toBe(200);
    const link = (resent.json() as { parameter?: { name: string; valueUri?: string }[] }).parameter?.find((p) => p.name === 'activationUrl')?.valueUri as string;
    expect(await about('resend-invite', `ProjectMembership/${membershipId}`)).toHaveLength(1);

    const { id, secret } = linkOf(link);
    const set = await t.app.inject({ method: 'POST', url: '/auth/setpassword', payload: { id, secret, password: PASSWORD } });
    expect(set.statusCode).toBe(200);
    const activations = await about('activation', userRef);
    expect(activations).toHaveLength(1);
    expect(activations[0].project).toBe(owner.projectId);
    expect(requestorOf(activations[0])?.altId).toBe(userRef);
    // The invitation accepted by the activation is not reported a second time as a membership update.
    expect(await about('membership-update', `ProjectMembership/${membershipId}`)).toEqual([]);
  });

  test('sign-in, then a reused refresh token: one sign-in event, one reuse event with a serious-failure outcome', async () => {
    const login = await startLogin(log, t.app, email, PASSWORD);
    expect(login.statusCode).toBe(200);
    const tokens = tokensOf(await exchangeCode(log, t.app, login.json().code as string, login.verifier));
    headers = { authorization: `Bearer ${tokens.access_token}` };
    const signIns = (await about('sign-in', userRef)).filter((d) => d.resource.outcome === '0');
    expect(signIns).toHaveLength(1);
    expect(signIns[0].project).toBe(owner.projectId);

    const refresh = (token: string) => t.app.inject({ method: 'POST', url: '/oauth2/token', ...form({ grant_type: 'refresh_token', refresh_token: token }) });
    const rotated = await refresh(tokens.refresh_token);
    expect(rotated.statusCode).toBe(200);
    tokensOf(rotated);
    expect(await about('refresh-token-reuse', userRef)).toEqual([]);
    expect((await refresh(tokens.refresh_token)).statusCode).toBe(400);
    const [reuse, ...more] = await about('refresh-token-reuse', userRef);
    expect(more).toEqual([]);
    expect(reuse.resource.outcome).toBe('8');
    expect(reuse.resource.type.code).toBe('110113');
  });

  test('MFA enrolled, a wrong code, a right code: one event each', async () => {
    const login = await startLogin(log, t.app, email, PASSWORD);
    headers = { authorization: `Bearer ${tokensOf(await exchangeCode(log, t.app, login.json().code as string, login.verifier)).access_token}` };
    const status = await t.app.inject({ method: 'GET', url: '/auth/mfa/status', headers });
    totpSecret = secretOf(status.json().enrollUri as string);
    keep(totpSecret);
    const enrollCode = codeAt(totpSecret, clock);
    codes.push(enrollCode);
    expect((await t.app.inject({ method: 'POST', url: '/auth/mfa/enroll', headers, payload: { token: enrollCode } })).statusCode).toBe(200);
    expect(await about('mfa-enrolled', userRef)).toHaveLength(1);
    clock.advance(STEP_MS);

    const mfaLogin = await startLogin(log, t.app, email, PASSWORD);
    expect(mfaLogin.json()).toMatchObject({ mfaRequired: true });
    const wrong = wrongCodeAt(totpSecret, clock);
    codes.push(wrong);
    expect((await t.app.inject({ method: 'POST', url: '/auth/mfa/verify', payload: { login: mfaLogin.json().login, token: wrong } })).statusCode).toBe(400);
    const failed = await about('mfa-failed', userRef);
    expect(failed).toHaveLength(1);
    expect(failed[0].resource.outcome).toBe('4');
    const right = codeAt(totpSecret, clock);
    codes.push(right);
    const verified = await t.app.inject({ method: 'POST', url: '/auth/mfa/verify', payload: { login: mfaLogin.json().login, token: right } });
    expect(verified.statusCode).toBe(200);
    expect(await about('mfa-verified', userRef)).toHaveLength(1);
    clock.advance(STEP_MS);

  });

  test('a client creation and a password reset (requested, completed): one event each', async () => {
    const client = await t.app.inject({ method: 'POST', url: `/admin/projects/${owner.projectId}/client`, headers: owner.session.headers, payload: { name: 'Journey client' } });
    expect(client.statusCode).toBe(201);
    const created = client.json() as { id: string; secret: string };
    keep(created.secret);
    expect(await about('client-create', `ClientApplication/${created.id}`)).toHaveLength(1);

    const mailsBefore = t.smtp.messages.length;
    expect((await t.app.inject({ method: 'POST', url: '/auth/resetpassword', payload: { email } })).statusCode).toBe(200);
    await t.app.ctx.auth.background.drain();
    expect(await about('password-reset-requested', userRef)).toHaveLength(1);
    const mails = await t.smtp.waitFor(mailsBefore + 1);
    const url = /(http:\/\/localhost:8103\/setpassword\/[A-Za-z0-9_-]+\/[A-Za-z0-9_-]+)/.exec(mails.at(-1)?.text ?? '')?.[1] as string;
    const { id, secret } = linkOf(url);
    expect((await t.app.inject({ method: 'POST', url: '/auth/setpassword', payload: { id, secret, password: NEW_PASSWORD } })).statusCode).toBe(200);
    const completed = await about('password-reset-completed', userRef);
    expect(completed).toHaveLength(1);
    expect(completed[0].resource.action).toBe('U');
  });

  test('revoking an invitation: one event', async () => {
    const invited = await postInvite(t.app, owner.session.headers, owner.projectId, { resourceType: 'Patient', firstName: 'Revoked', lastName: 'Invitee', email: uniqueEmail('journey-revoked'), sendEmail: false });
    const id = outputs(invited).membership.id as string;
    linkOf(outputs(invited).activationUrl as string);
    const revoked = await t.app.inject({ method: 'POST', url: `/fhir/R4/ProjectMembership/${id}/$revoke-invite`, headers: { ...owner.session.headers, 'content-type': 'application/fhir+json' }, payload: { resourceType: 'Parameters' } });
    expect(revoked.statusCode).toBe(200);
    const [event, ...more] = await about('revoke-invite', `ProjectMembership/${id}`);
    expect(more).toEqual([]);
    expect(requestorOf(event)?.altId).toBe(`User/${owner.userId}`);
  });

  test('ten wrong codes lock the code step (one lockout event), and disabling MFA is one event', async () => {
    // Nine more wrong codes (over two sign-ins: five per sign-in) lock the account's code step.
    let left = 9;
    while (left > 0) {
      const next = await startLogin(log, t.app, email, NEW_PASSWORD);
      for (let i = 0; i < 5 && left > 0; i++, left--) {
        await t.app.inject({ method: 'POST', url: '/auth/mfa/verify', payload: { login: next.json().login, token: wrongCodeAt(totpSecret, clock) } });
      }
    }
    expect(await about('mfa-failed', userRef)).toHaveLength(10);
    const locked = await about('mfa-locked', userRef);
    expect(locked).toHaveLength(1);
    expect(locked[0].resource.type.code).toBe('110113');

    // A day later: signed in again with a code, the user turns MFA off.
    clock.advance(24 * 3600_000);
    const again = await startLogin(log, t.app, email, NEW_PASSWORD);
    const code = codeAt(totpSecret, clock);
    codes.push(code);
    const passed = await t.app.inject({ method: 'POST', url: '/auth/mfa/verify', payload: { login: again.json().login, token: code } });
    expect(passed.statusCode).toBe(200);
    const fresh = { authorization: `Bearer ${tokensOf(await exchangeCode(log, t.app, passed.json().code as string, again.verifier)).access_token}` };
    clock.advance(STEP_MS);
    const off = codeAt(totpSecret, clock);
    codes.push(off);
    expect((await t.app.inject({ method: 'POST', url: '/auth/mfa/disable', headers: fresh, payload: { token: off } })).statusCode).toBe(200);
    expect(await about('mfa-disabled', userRef)).toHaveLength(1);
  });


  test('no stored event holds a secret: passwords, hashes, tokens, link secrets, the TOTP secret and codes, the client secret', async () => {
    const stored = await all();
    expect(stored.length).toBeGreaterThan(30);
    const text = JSON.stringify(stored);
    expect(secrets.length).toBeGreaterThan(10);
    for (const secret of secrets) {
      expect(text.includes(secret) ? secret : undefined).toBeUndefined();
    }
    expect(text).not.toMatch(/\$argon2/);
    // Codes are short: none may be a value of its own.
    const leaves: string[] = [];
    const walk = (value: unknown): void => {
      if (typeof value === 'string') {
        leaves.push(value);
      } else if (value && typeof value === 'object') {
        Object.values(value).forEach(walk);
      }
    };
    walk(stored);
    expect(leaves.filter((leaf) => codes.some((code) => new RegExp(`(^|\\D)${code}(\\D|$)`).test(leaf) && !/^[0-9a-f-]{36}$/.test(leaf)))).toEqual([]);
    // The invitee's email is in no event (an administrator sees it on the User where allowed).
    expect(text).not.toContain(email);
  });
});
