import { CREDENTIALS } from '../../src/accounts/credentials';
import type { CredentialsDoc as UserCredentials } from '../../src/accounts/credentials';
import { ACCOUNT_MFA_LOCKOUT_MS, ACCOUNT_MFA_MAX_FAILURES, ACCOUNT_MFA_WINDOW_MS } from '../../src/accounts/mfa-attempts';
import { loginVerify } from '../../src/accounts/mfa';
import { SECURITY_EVENTS, type SecurityEventDoc } from '../../src/accounts/sessions';
import { KeyedLock } from '../../src/db/keyed-lock';
import { FhirError } from '../../src/errors';
import { TestClock } from '../helpers/app';
import { capturingLogger } from '../helpers/log-capture';
import { useTestApp } from '../helpers/suite';
import { createMember, type Member } from '../helpers/activation';
import { codeAt, exchangeCode, ResponseLog, secretOf, startLogin, wrongCodeAt } from '../helpers/mfa';

const STEP_MS = 30_000;
const MINUTE = 60_000;

describe('TOTP failures are counted per account, across sign-ins and sessions', () => {
  const clock = new TestClock();
  const lines: string[] = [];
  const t = useTestApp(() => {
    return { clock, logger: capturingLogger(lines) };
  });
  const log = new ResponseLog();
  const post = (url: string, payload: Record<string, unknown>, headers: Record<string, string> = {}) => log.call(t.app, { method: 'POST', url, payload, headers });
  const events = (userId: string) => t.app.ctx.database.db.collection<SecurityEventDoc>(SECURITY_EVENTS).find({ userId }).sort({ at: 1 }).toArray();
  const credentialsOf = (userId: string) => t.app.ctx.database.db.collection<UserCredentials>(CREDENTIALS).findOne({ _id: userId });

  /** A member enrolled in TOTP (through the sign-in), and its secret; the clock is then one step later. */
  async function enrolledMember(): Promise<{ member: Member; secret: string }> {
    const member = await createMember(t.app, { mfaRequired: true });
    const first = await startLogin(log, t.app, member.email, member.password);
    const secret = secretOf(first.json().enrollUri);
    expect((await post('/auth/mfa/login-enroll', { login: first.json().login, token: codeAt(secret, clock) })).statusCode).toBe(200);
    clock.advance(STEP_MS);
    return { member, secret };
  }

  /** A new sign-in up to its code step; answers the login id. */
  async function codeStep(member: Member): Promise<string> {
    const res = await startLogin(log, t.app, member.email, member.password);
    expect(res.json()).toMatchObject({ mfaRequired: true });
    return res.json().login;
  }

  /** Signs in with the right code; answers the bearer headers. */
  async function signedIn(member: Member, secret: string): Promise<Record<string, string>> {
    const res = await startLogin(log, t.app, member.email, member.password);
    const verified = await post('/auth/mfa/verify', { login: res.json().login, token: codeAt(secret, clock) });
    expect(verified.statusCode).toBe(200);
    clock.advance(STEP_MS);
    const tokens = await exchangeCode(log, t.app, verified.json().code, res.verifier);
    return { authorization: `Bearer ${tokens.json().access_token}` };
  }

  /** `count` wrong codes on fresh sign-ins (5 per sign-in, the per-login limit); answers the statuses. */
  async function wrongCodes(member: Member, secret: string, count: number): Promise<number[]> {
    const statuses: number[] = [];
    let login = '';
    for (let i = 0; i < count; i++) {
      if (i % 5 === 0) {
        login = await codeStep(member);
      }
      statuses.push((await post('/auth/mfa/verify', { login, token: wrongCodeAt(secret, clock) })).statusCode);
    }
    return statuses;
  }

  function expectLocked(res: { statusCode: number; headers: Record<string, unknown>; json(): unknown }, maxSeconds: number): void {
    expect(res.statusCode).toBe(429);
    expect(res.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'throttled', details: { text: expect.stringMatching(/this account/) } }] });
    const retryAfter = Number(res.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(maxSeconds);
  }

  test('100 wrong codes spread over 20 sign-ins, then the right code: refused (the account is locked after 10)', async () => {
    const { member, secret } = await enrolledMember();
    const statuses = await wrongCodes(member, secret, 100);
    expect(statuses.slice(0, ACCOUNT_MFA_MAX_FAILURES)).toEqual(Array(ACCOUNT_MFA_MAX_FAILURES).fill(400));
    expect(statuses.slice(ACCOUNT_MFA_MAX_FAILURES)).toEqual(Array(100 - ACCOUNT_MFA_MAX_FAILURES).fill(429));

    const fresh = await codeStep(member);
    expectLocked(await post('/auth/mfa/verify', { login: fresh, token: codeAt(secret, clock) }), ACCOUNT_MFA_LOCKOUT_MS / 1000);
  });

  test('the lock lasts 15 minutes from the 10th failure; then the right code works', async () => {
    const { member, secret } = await enrolledMember();
    const statuses = await wrongCodes(member, secret, ACCOUNT_MFA_MAX_FAILURES);
    expect(statuses).toEqual(Array(ACCOUNT_MFA_MAX_FAILURES).fill(400));
    clock.advance(ACCOUNT_MFA_LOCKOUT_MS - MINUTE);
    expectLocked(await post('/auth/mfa/verify', { login: await codeStep(member), token: codeAt(secret, clock) }), 60);
    clock.advance(MINUTE);
    expect((await post('/auth/mfa/verify', { login: await codeStep(member), token: codeAt(secret, clock) })).statusCode).toBe(200);
  });

  test('a second lockout within a day lasts twice as long', async () => {
    const { member, secret } = await enrolledMember();
    await wrongCodes(member, secret, ACCOUNT_MFA_MAX_FAILURES);
    clock.advance(ACCOUNT_MFA_LOCKOUT_MS);
    expect(await wrongCodes(member, secret, ACCOUNT_MFA_MAX_FAILURES)).toEqual(Array(ACCOUNT_MFA_MAX_FAILURES).fill(400));
    clock.advance(ACCOUNT_MFA_LOCKOUT_MS);
    expectLocked(await post('/auth/mfa/verify', { login: await codeStep(member), token: codeAt(secret, clock) }), ACCOUNT_MFA_LOCKOUT_MS / 1000);
    clock.advance(ACCOUNT_MFA_LOCKOUT_MS);
    expect((await post('/auth/mfa/verify', { login: await codeStep(member), token: codeAt(secret, clock) })).statusCode).toBe(200);
  });

  test('the window slides: failures older than 15 minutes no longer count; a right code does not reset the count', async () => {
    const { member, secret } = await enrolledMember();
    expect(await wrongCodes(member, secret, 9)).toEqual(Array(9).fill(400));
    clock.advance(ACCOUNT_MFA_WINDOW_MS);
    expect(await wrongCodes(member, secret, 9)).toEqual(Array(9).fill(400));
    // 9 in the window: a right code passes (and is not counted)...
    expect((await post('/auth/mfa/verify', { login: await codeStep(member), token: codeAt(secret, clock) })).statusCode).toBe(200);
    clock.advance(STEP_MS);
    // ...but does not wipe the 9: the next wrong code is the last one.
    const login = await codeStep(member);
    const last = await post('/auth/mfa/verify', { login, token: wrongCodeAt(secret, clock) });
    expect(last.statusCode).toBe(400);
    expect(last.json().issue[0].details.text).toMatch(/No tries left: codes for this account are refused/);
    expectLocked(await post('/auth/mfa/verify', { login, token: codeAt(secret, clock) }), ACCOUNT_MFA_LOCKOUT_MS / 1000);
  });

  test('sign-in enrollment (/auth/mfa/login-enroll) counts against the account', async () => {
    const member = await createMember(t.app, { mfaRequired: true });
    let secret = '';
    for (let i = 0; i < 2; i++) {
      const res = await startLogin(log, t.app, member.email, member.password);
      secret = secretOf(res.json().enrollUri);
      for (let j = 0; j < 5; j++) {
        expect((await post('/auth/mfa/login-enroll', { login: res.json().login, token: wrongCodeAt(secret, clock) })).statusCode).toBe(400);
      }
    }
    const third = await startLogin(log, t.app, member.email, member.password);
    expectLocked(await post('/auth/mfa/login-enroll', { login: third.json().login, token: codeAt(secret, clock) }), ACCOUNT_MFA_LOCKOUT_MS / 1000);
    expect((await credentialsOf(member.user.id as string))?.mfaSecret).toBeUndefined();
  });

  test('signed-in enrollment (/auth/mfa/enroll) counts against the account, across sessions', async () => {
    const member = await createMember(t.app);
    const session = async () => {
      const res = await startLogin(log, t.app, member.email, member.password);
      const tokens = await exchangeCode(log, t.app, res.json().code, res.verifier);
      return { authorization: `Bearer ${tokens.json().access_token}` };
    };
    let secret = '';
    for (let i = 0; i < 2; i++) {
      const headers = await session();
      secret = secretOf((await log.call(t.app, { method: 'GET', url: '/auth/mfa/status', headers })).json().enrollUri);
      for (let j = 0; j < 5; j++) {
        expect((await post('/auth/mfa/enroll', { token: wrongCodeAt(secret, clock) }, headers)).statusCode).toBe(400);
      }
    }
    expectLocked(await post('/auth/mfa/enroll', { token: codeAt(secret, clock) }, await session()), ACCOUNT_MFA_LOCKOUT_MS / 1000);
  });

  test('wrong codes at sign-in and at /auth/mfa/disable add up; the lock covers both', async () => {
    const member = await createMember(t.app);
    const first = await startLogin(log, t.app, member.email, member.password);
    const headers = { authorization: `Bearer ${(await exchangeCode(log, t.app, first.json().code, first.verifier)).json().access_token}` };
    const secret = secretOf((await log.call(t.app, { method: 'GET', url: '/auth/mfa/status', headers })).json().enrollUri);
    expect((await post('/auth/mfa/enroll', { token: codeAt(secret, clock) }, headers)).statusCode).toBe(200);
    clock.advance(STEP_MS);

    expect(await wrongCodes(member, secret, 5)).toEqual(Array(5).fill(400));
    const other = await signedIn(member, secret);
    for (let i = 0; i < 5; i++) {
      expect((await post('/auth/mfa/disable', { token: wrongCodeAt(secret, clock) }, other)).statusCode).toBe(400);
    }
    expectLocked(await post('/auth/mfa/verify', { login: await codeStep(member), token: codeAt(secret, clock) }), ACCOUNT_MFA_LOCKOUT_MS / 1000);
    expectLocked(await post('/auth/mfa/disable', { token: codeAt(secret, clock) }, headers), ACCOUNT_MFA_LOCKOUT_MS / 1000);
  });

  test('each failure and the lockout are kept in the trail and logged at warn, without codes or secrets', async () => {
    const { member, secret } = await enrolledMember();
    const userId = member.user.id as string;
    const before = lines.length;
    const codes: string[] = [];
    let login = '';
    for (let i = 0; i < ACCOUNT_MFA_MAX_FAILURES; i++) {
      if (i % 5 === 0) {
        login = await codeStep(member);
      }
      const code = wrongCodeAt(secret, clock);
      codes.push(code);
      await post('/auth/mfa/verify', { login, token: code });
    }
    const trail = await events(userId);
    const failures = trail.filter((e) => e.type === 'mfa-failure');
    expect(failures).toHaveLength(ACCOUNT_MFA_MAX_FAILURES);
    expect(failures.map((e) => e.failures)).toEqual(Array.from({ length: ACCOUNT_MFA_MAX_FAILURES }, (_, i) => i + 1));
    expect(failures.every((e) => e.step === 'verify' && typeof e.loginId === 'string')).toBe(true);
    const lockouts = trail.filter((e) => e.type === 'mfa-lockout');
    expect(lockouts).toHaveLength(1);
    expect(lockouts[0].lockedUntil?.getTime()).toBe(clock.now().getTime() + ACCOUNT_MFA_LOCKOUT_MS);

    const written = lines.slice(before).map((l) => JSON.parse(l) as { level: number; msg: string; userId?: string });
    expect(written.filter((l) => l.level === 40 && l.msg === 'wrong MFA code' && l.userId === userId)).toHaveLength(ACCOUNT_MFA_MAX_FAILURES);
    expect(written.filter((l) => l.level === 40 && /locked/.test(l.msg) && l.userId === userId)).toHaveLength(1);
    const text = lines.slice(before).join('\n');
    expect(text).not.toContain(secret);
    for (const code of new Set(codes)) {
      expect(text).not.toContain(`"${code}"`);
    }
    expect(JSON.stringify(trail)).not.toContain(secret);
  });

  test('parallel wrong guesses on separate instances cannot pass the limit together', async () => {
    const { member, secret } = await enrolledMember();
    const logins = await Promise.all(Array.from({ length: 20 }, () => codeStep(member)));
    const wrong = wrongCodeAt(secret, clock);
    // Each call with its own in-process lock: as if every guess reached a different instance.
    const outcomes = await Promise.allSettled(logins.map((login) => loginVerify({ database: t.app.ctx.database, clock, lock: new KeyedLock() }, login, wrong)));
    const statuses = outcomes.map((o) => (o.status === 'rejected' && o.reason instanceof FhirError ? o.reason.statusCode : 0));
    expect(statuses.filter((s) => s === 400)).toHaveLength(ACCOUNT_MFA_MAX_FAILURES);
    expect(statuses.filter((s) => s === 429)).toHaveLength(20 - ACCOUNT_MFA_MAX_FAILURES);
    expect((await credentialsOf(member.user.id as string))?.mfaAttempts).toHaveLength(ACCOUNT_MFA_MAX_FAILURES);
    expectLocked(await post('/auth/mfa/verify', { login: await codeStep(member), token: codeAt(secret, clock) }), ACCOUNT_MFA_LOCKOUT_MS / 1000);
  });
});
