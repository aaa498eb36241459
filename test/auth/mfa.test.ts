import type { User } from '@medplum/fhirtypes';
import { CREDENTIALS } from '../../src/accounts/credentials';
import { readResource, updateResource } from '../../src/fhir/repository';
import { TestClock } from '../helpers/app';
import { useTestApp } from '../helpers/suite';
import { repoOf } from '../helpers/fixtures';
import { createMember, type Member } from '../helpers/activation';
import { codeAt, exchangeCode, ResponseLog, secretOf, startLogin, wrongCodeAt } from '../helpers/mfa';

const STEP_MS = 30_000;

describe('mandatory MFA at sign-in (TOTP)', () => {
  const clock = new TestClock();
  const t = useTestApp({ clock });
  const log = new ResponseLog();
  const secrets: string[] = [];

  const post = (url: string, payload: Record<string, unknown>) => log.call(t.app, { method: 'POST', url, payload });
  const credentialsOf = (userId: string) => t.app.ctx.database.db.collection<{ _id: string; mfaSecret?: string; mfaPendingSecret?: string }>(CREDENTIALS).findOne({ _id: userId });

  /** A member who must use MFA, enrolled through the sign-in; answers the member and its secret. */
  async function enrolledMember(): Promise<{ member: Member; secret: string }> {
    const member = await createMember(t.app, { mfaRequired: true });
    const first = await startLogin(log, t.app, member.email, member.password);
    const secret = secretOf(first.json().enrollUri);
    const res = await post('/auth/mfa/login-enroll', { login: first.json().login, token: codeAt(secret, clock) });
    expect(res.statusCode).toBe(200);
    secrets.push(secret);
    clock.advance(STEP_MS);
    return { member, secret };
  }

  test('a user who must use MFA is asked to enroll instead of getting a code', async () => {
    const member = await createMember(t.app, { mfaRequired: true });
    const res = await startLogin(log, t.app, member.email, member.password);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toEqual({ login: expect.any(String), mfaEnrollRequired: true, enrollUri: expect.any(String), enrollQrCode: expect.any(String) });
    expect(body.enrollQrCode).toMatch(/^data:image\/png;base64,/);
    const uri = new URL(body.enrollUri);
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(uri.searchParams.get('issuer')).toBe('fhir-invite-server');
    expect(uri.searchParams.get('algorithm')).toBe('SHA1');
    expect(uri.searchParams.get('digits')).toBe('6');
    expect(uri.searchParams.get('period')).toBe('30');
    expect(decodeURIComponent(uri.pathname)).toContain(member.email);

    // Signing in again before enrolling offers the same secret (an app that scanned it keeps working).
    const again = await startLogin(log, t.app, member.email, member.password);
    expect(secretOf(again.json().enrollUri)).toBe(secretOf(body.enrollUri));
    // The pending login cannot skip the step through /auth/profile.
    const skip = await post('/auth/profile', { login: body.login, profile: member.membership.id as string });
    expect(skip.statusCode).toBe(400);
  });

  test('enrollment during sign-in: a wrong code is 400, the right one answers { login, code } and tokens', async () => {
    const member = await createMember(t.app, { mfaRequired: true });
    const first = await startLogin(log, t.app, member.email, member.password);
    const { login, enrollUri } = first.json();
    const secret = secretOf(enrollUri);
    secrets.push(secret);

    const wrong = await post('/auth/mfa/login-enroll', { login, token: wrongCodeAt(secret, clock) });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().issue[0]).toMatchObject({ expression: ['token'] });
    expect(wrong.json().issue[0].details.text).toMatch(/not correct.*4 tries left/);
    expect((await credentialsOf(member.user.id as string))?.mfaSecret).toBeUndefined();

    const right = await post('/auth/mfa/login-enroll', { login, token: codeAt(secret, clock) });
    expect(right.statusCode).toBe(200);
    expect(right.json()).toEqual({ login, code: expect.any(String) });
    const tokens = await exchangeCode(log, t.app, right.json().code, first.verifier);
    expect(tokens.statusCode).toBe(200);
    expect(tokens.json()).toHaveProperty('access_token');

    const creds = await credentialsOf(member.user.id as string);
    expect(creds?.mfaSecret).toBe(secret);
    expect(creds?.mfaPendingSecret).toBeUndefined();
    const user = await readResource<User>(repoOf(t.app), 'User', member.user.id as string);
    expect(user.mfaEnrolled).toBe(true);
    expect(JSON.stringify(user)).not.toContain(secret);

    // Enrolling twice is refused.
    clock.advance(STEP_MS);
    const second = await startLogin(log, t.app, member.email, member.password);
    const again = await post('/auth/mfa/login-enroll', { login: second.json().login, token: codeAt(secret, clock) });
    expect(again.statusCode).toBe(400);
  });

  test('an enrolled user gets { login, mfaRequired } and finishes with /auth/mfa/verify', async () => {
    const { member, secret } = await enrolledMember();
    const res = await startLogin(log, t.app, member.email, member.password);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ login: expect.any(String), mfaRequired: true });
    const verified = await post('/auth/mfa/verify', { login: res.json().login, token: codeAt(secret, clock) });
    expect(verified.statusCode).toBe(200);
    expect(verified.json()).toEqual({ login: res.json().login, code: expect.any(String) });
    const tokens = await exchangeCode(log, t.app, verified.json().code, res.verifier);
    expect(tokens.statusCode).toBe(200);
    // The login is done: a second verify is refused.
    clock.advance(STEP_MS);
    const twice = await post('/auth/mfa/verify', { login: res.json().login, token: codeAt(secret, clock) });
    expect(twice.statusCode).toBe(400);
  });

  test('codes one step early or late are accepted; two steps off are not', async () => {
    const { member, secret } = await enrolledMember();
    const a = await startLogin(log, t.app, member.email, member.password);
    expect((await post('/auth/mfa/verify', { login: a.json().login, token: codeAt(secret, clock, -2) })).statusCode).toBe(400);
    expect((await post('/auth/mfa/verify', { login: a.json().login, token: codeAt(secret, clock, 2) })).statusCode).toBe(400);
    expect((await post('/auth/mfa/verify', { login: a.json().login, token: codeAt(secret, clock, 1) })).statusCode).toBe(200);
  });

  test('a TOTP code cannot be used twice (replay), even on another sign-in', async () => {
    const { member, secret } = await enrolledMember();
    const code = codeAt(secret, clock);
    const a = await startLogin(log, t.app, member.email, member.password);
    expect((await post('/auth/mfa/verify', { login: a.json().login, token: code })).statusCode).toBe(200);
    const b = await startLogin(log, t.app, member.email, member.password);
    const replay = await post('/auth/mfa/verify', { login: b.json().login, token: code });
    expect(replay.statusCode).toBe(400);
    expect(replay.json().issue[0].details.text).toMatch(/already used/);
    // An earlier step's code is refused too once a later one was used.
    expect((await post('/auth/mfa/verify', { login: b.json().login, token: codeAt(secret, clock, -1) })).statusCode).toBe(400);
    clock.advance(STEP_MS);
    expect((await post('/auth/mfa/verify', { login: b.json().login, token: codeAt(secret, clock) })).statusCode).toBe(200);
  });

  test('concurrent uses of one code: exactly one sign-in gets through', async () => {
    const { member, secret } = await enrolledMember();
    const logins = await Promise.all([1, 2, 3].map(() => startLogin(log, t.app, member.email, member.password)));
    const code = codeAt(secret, clock);
    const results = await Promise.all(logins.map((l) => post('/auth/mfa/verify', { login: l.json().login, token: code })));
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 400, 400]);
  });

  test('after 5 wrong codes the sign-in is dead (429), even for the right code later', async () => {
    const { member, secret } = await enrolledMember();
    const res = await startLogin(log, t.app, member.email, member.password);
    const login = res.json().login;
    for (let i = 0; i < 5; i++) {
      const wrong = await post('/auth/mfa/verify', { login, token: wrongCodeAt(secret, clock) });
      expect(wrong.statusCode).toBe(400);
    }
    const locked = await post('/auth/mfa/verify', { login, token: codeAt(secret, clock) });
    expect(locked.statusCode).toBe(429);
    expect(locked.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'throttled' }] });
    expect(locked.headers['retry-after']).toBeDefined();
    clock.advance(10 * STEP_MS);
    expect((await post('/auth/mfa/verify', { login, token: codeAt(secret, clock) })).statusCode).toBe(429);
    // A new sign-in starts afresh.
    const fresh = await startLogin(log, t.app, member.email, member.password);
    expect((await post('/auth/mfa/verify', { login: fresh.json().login, token: codeAt(secret, clock) })).statusCode).toBe(200);
  });

  test('concurrent wrong guesses cannot exceed the limit of 5', async () => {
    const { member, secret } = await enrolledMember();
    const res = await startLogin(log, t.app, member.email, member.password);
    const login = res.json().login;
    const wrong = wrongCodeAt(secret, clock);
    const results = await Promise.all(Array.from({ length: 8 }, () => post('/auth/mfa/verify', { login, token: wrong })));
    const statuses = results.map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 400)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(3);
    expect((await post('/auth/mfa/verify', { login, token: codeAt(secret, clock) })).statusCode).toBe(429);
  });

  test('the code step must come within 15 minutes of the password', async () => {
    const { member, secret } = await enrolledMember();
    const res = await startLogin(log, t.app, member.email, member.password);
    clock.advance(16 * 60_000);
    const late = await post('/auth/mfa/verify', { login: res.json().login, token: codeAt(secret, clock) });
    expect(late.statusCode).toBe(400);
    expect(late.json().issue[0].details.text).toMatch(/expired/);
  });

  test('a User marked enrolled without a stored secret must enroll (fails closed)', async () => {
    const member = await createMember(t.app);
    const repo = repoOf(t.app);
    const user = await readResource<User>(repo, 'User', member.user.id as string);
    await updateResource(repo, { ...user, mfaEnrolled: true }, { skipValidation: true });
    const res = await startLogin(log, t.app, member.email, member.password);
    expect(res.json()).toMatchObject({ mfaEnrollRequired: true });
    expect(res.json()).not.toHaveProperty('code');
  });

  test('bad login ids and malformed bodies are refused', async () => {
    expect((await post('/auth/mfa/verify', { login: 'no-such-login', token: '123456' })).statusCode).toBe(400);
    expect((await post('/auth/mfa/login-enroll', { login: 'no-such-login', token: '123456' })).statusCode).toBe(400);
    expect((await post('/auth/mfa/verify', { login: { $ne: null }, token: '123456' })).statusCode).toBe(400);
    expect((await post('/auth/mfa/verify', { login: 'x' })).statusCode).toBe(400);
    // A sign-in that needed no code step cannot use the MFA endpoints.
    const plain = await createMember(t.app);
    const res = await startLogin(log, t.app, plain.email, plain.password);
    expect(res.json()).toHaveProperty('code');
    expect((await post('/auth/mfa/verify', { login: res.json().login, token: '123456' })).statusCode).toBe(400);
  });

  test('no MFA secret and no password ever appears in a response after enrollment', () => {
    expect(secrets.length).toBeGreaterThan(3);
    for (const secret of secrets) {
      // Only the enrollment offers (mfaEnrollRequired) carry the secret, inside the otpauth URI.
      const carrying = log.containing(secret);
      expect(carrying.length).toBeGreaterThan(0);
      for (const body of carrying) {
        expect(body).toContain('"mfaEnrollRequired":true');
      }
    }
    expect(log.containing('a long and unusual passphrase')).toEqual([]);
    expect(log.containing('passwordHash')).toEqual([]);
    expect(log.containing('mfaSecret')).toEqual([]);
  });
});
