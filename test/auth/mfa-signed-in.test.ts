import type { User } from '@medplum/fhirtypes';
import { CREDENTIALS } from '../../src/accounts/credentials';
import { readResource } from '../../src/fhir/repository';
import { TestClock } from '../helpers/app';
import { useTestApp } from '../helpers/suite';
import { repoOf } from '../helpers/fixtures';
import { createMember, type Member } from '../helpers/activation';
import { codeAt, exchangeCode, ResponseLog, secretOf, startLogin, wrongCodeAt } from '../helpers/mfa';

const STEP_MS = 30_000;

describe('MFA for signed-in users: status, enroll, disable', () => {
  const clock = new TestClock();
  const t = useTestApp({ clock });
  const log = new ResponseLog();

  /** Signs a member in without MFA (or with the given secret) and answers the bearer header. */
  async function bearer(member: Member, secret?: string): Promise<{ authorization: string }> {
    const res = await startLogin(log, t.app, member.email, member.password);
    let code = res.json().code as string | undefined;
    if (!code && secret) {
      const verified = await log.call(t.app, { method: 'POST', url: '/auth/mfa/verify', payload: { login: res.json().login, token: codeAt(secret, clock) } });
      code = verified.json().code;
      clock.advance(STEP_MS);
    }
    const tokens = await exchangeCode(log, t.app, code as string, res.verifier);
    return { authorization: `Bearer ${tokens.json().access_token}` };
  }

  const status = (headers: Record<string, string>) => log.call(t.app, { method: 'GET', url: '/auth/mfa/status', headers });
  const enroll = (headers: Record<string, string>, token: string) => log.call(t.app, { method: 'POST', url: '/auth/mfa/enroll', headers, payload: { token } });
  const disable = (headers: Record<string, string>, token: string) => log.call(t.app, { method: 'POST', url: '/auth/mfa/disable', headers, payload: { token } });
  const userOf = (member: Member) => readResource<User>(repoOf(t.app), 'User', member.user.id as string);

  test('the endpoints need a signed-in user', async () => {
    expect((await log.call(t.app, { method: 'GET', url: '/auth/mfa/status' })).statusCode).toBe(401);
    expect((await log.call(t.app, { method: 'POST', url: '/auth/mfa/enroll', payload: { token: '123456' } })).statusCode).toBe(401);
    expect((await log.call(t.app, { method: 'POST', url: '/auth/mfa/disable', payload: { token: '123456' } })).statusCode).toBe(401);
  });

  test('enroll from the status QR code, then sign-ins ask for a code; disable needs a valid code', async () => {
    const member = await createMember(t.app);
    const headers = await bearer(member);

    const first = await status(headers);
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({
      enrolled: false,
      mfaRequired: false,
      enrolledMethods: [],
      allowedMethods: ['totp'],
      enrollUri: expect.stringMatching(/^otpauth:\/\/totp\//),
      enrollQrCode: expect.stringMatching(/^data:image\/png;base64,/),
    });
    const secret = secretOf(first.json().enrollUri);
    expect(secretOf((await status(headers)).json().enrollUri)).toBe(secret);

    expect((await enroll(headers, wrongCodeAt(secret, clock))).statusCode).toBe(400);
    const ok = await enroll(headers, codeAt(secret, clock));
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ resourceType: 'OperationOutcome' });
    expect((await userOf(member)).mfaEnrolled).toBe(true);
    clock.advance(STEP_MS);

    const after = await status(headers);
    expect(after.json()).toEqual({ enrolled: true, mfaRequired: false, enrolledMethods: ['totp'], allowedMethods: ['totp'] });
    expect(after.body).not.toContain(secret);
    expect((await enroll(headers, codeAt(secret, clock))).statusCode).toBe(400);

    const login = await startLogin(log, t.app, member.email, member.password);
    expect(login.json()).toEqual({ login: expect.any(String), mfaRequired: true });

    const badDisable = await disable(headers, wrongCodeAt(secret, clock));
    expect(badDisable.statusCode).toBe(400);
    expect((await userOf(member)).mfaEnrolled).toBe(true);
    const disabled = await disable(headers, codeAt(secret, clock));
    expect(disabled.statusCode).toBe(200);
    expect((await userOf(member)).mfaEnrolled).toBe(false);
    const creds = await t.app.ctx.database.db.collection<{ _id: string; mfaSecret?: string }>(CREDENTIALS).findOne({ _id: member.user.id as string });
    expect(creds?.mfaSecret).toBeUndefined();

    // Sign-ins no longer ask for a code; a new enrollment gets a new secret.
    expect((await startLogin(log, t.app, member.email, member.password)).json()).toHaveProperty('code');
    const renewed = secretOf((await status(headers)).json().enrollUri);
    expect(renewed).not.toBe(secret);
    // Every response that carried the first secret was an enrollment offer made before enrollment.
    for (const body of log.containing(secret)) {
      expect(body).toContain('"enrolled":false');
    }
  });

  test('MFA cannot be turned off when it is required for the user', async () => {
    const member = await createMember(t.app, { mfaRequired: true });
    const login = await startLogin(log, t.app, member.email, member.password);
    const secret = secretOf(login.json().enrollUri);
    const enrolled = await log.call(t.app, { method: 'POST', url: '/auth/mfa/login-enroll', payload: { login: login.json().login, token: codeAt(secret, clock) } });
    const tokens = await exchangeCode(log, t.app, enrolled.json().code, login.verifier);
    const headers = { authorization: `Bearer ${tokens.json().access_token}` };
    clock.advance(STEP_MS);

    const refused = await disable(headers, codeAt(secret, clock));
    expect(refused.statusCode).toBe(403);
    expect(refused.json().issue[0].details.text).toMatch(/required/);
    expect((await userOf(member)).mfaEnrolled).toBe(true);
    expect((await status(headers)).json()).toEqual({ enrolled: true, mfaRequired: true, enrolledMethods: ['totp'], allowedMethods: ['totp'] });
  });

  test('disabling when not enrolled is refused; wrong codes on a session lock its MFA changes (429)', async () => {
    const member = await createMember(t.app);
    const headers = await bearer(member);
    expect((await disable(headers, '123456')).statusCode).toBe(400);

    const secret = secretOf((await status(headers)).json().enrollUri);
    for (let i = 0; i < 5; i++) {
      expect((await enroll(headers, wrongCodeAt(secret, clock))).statusCode).toBe(400);
    }
    expect((await enroll(headers, codeAt(secret, clock))).statusCode).toBe(429);
    expect((await userOf(member)).mfaEnrolled).toBeFalsy();
    // A new sign-in (a new session) may try again.
    const fresh = await bearer(member);
    expect((await enroll(fresh, codeAt(secret, clock))).statusCode).toBe(200);
  });
});
