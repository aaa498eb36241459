import { generateKeyPair, SignJWT } from 'jose';
import { TestClock } from '../helpers/app';
import { useTestApp } from '../helpers/suite';
import { signIn, type SignedIn } from '../helpers/auth';
import { form } from '../helpers/auth';

function decode(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}

describe('tokens: refresh, revocation, tampering, expiry', () => {
  const clock = new TestClock();
  const t = useTestApp({ clock });

  const me = (authorization: string) => t.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization } });
  const refresh = (refreshToken: string) => t.app.inject({ method: 'POST', url: '/oauth2/token', ...form({ grant_type: 'refresh_token', refresh_token: refreshToken }) });

  test('a refresh token works once: rotation gives a new pair and the old one stops working', async () => {
    const session = await signIn(t.app);
    clock.advance(1000);
    const first = await refresh(session.refreshToken as string);
    expect(first.statusCode).toBe(200);
    const next = first.json();
    expect(next.refresh_token).not.toBe(session.refreshToken);
    expect(next.access_token).not.toBe(session.accessToken);
    expect(next.project).toEqual(session.project);
    expect(next.profile).toEqual(session.profile);
    expect(decode(next.access_token).login_id).toBe(decode(session.accessToken).login_id);
    expect((await me(`Bearer ${next.access_token}`)).statusCode).toBe(200);

    const replay = await refresh(session.refreshToken as string);
    expect(replay.statusCode).toBe(400);
    expect(replay.json()).toEqual({ error: 'invalid_grant', error_description: expect.stringContaining('already used') });
    // The replay ended the whole sign-in: the newer pair is dead too (see refresh-reuse.test.ts).
    expect((await refresh(next.refresh_token)).statusCode).toBe(400);
  });

  test('the same refresh token used twice at once: exactly one succeeds', async () => {
    const session = await signIn(t.app);
    const results = await Promise.all([1, 2, 3].map(() => refresh(session.refreshToken as string)));
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 400, 400]);
  });

  test('an access token is not a refresh token, and garbage is refused', async () => {
    const session = await signIn(t.app);
    expect((await refresh(session.accessToken)).json().error).toBe('invalid_grant');
    expect((await refresh('not-a-jwt')).json().error).toBe('invalid_grant');
    const missing = await t.app.inject({ method: 'POST', url: '/oauth2/token', ...form({ grant_type: 'refresh_token' }) });
    expect(missing.json()).toEqual({ error: 'invalid_request', error_description: 'Missing refresh_token' });
  });

  describe.each([
    ['/auth/logout', 'POST'],
    ['/oauth2/logout', 'POST'],
    ['/oauth2/logout', 'GET'],
  ] as const)('%s (%s)', (url, method) => {
    test('revokes the session: its access and refresh tokens stop working', async () => {
      const session: SignedIn = await signIn(t.app);
      const other = await signIn(t.app);
      const out = await t.app.inject({ method, url, headers: session.headers });
      expect(out.statusCode).toBe(200);
      const after = await me(session.headers.authorization);
      expect(after.statusCode).toBe(401);
      expect(after.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'login', details: { text: expect.stringMatching(/ended/) } }] });
      expect((await refresh(session.refreshToken as string)).json().error).toBe('invalid_grant');
      expect((await me(other.headers.authorization)).statusCode).toBe(200);
    });
  });

  test('logout needs a valid token', async () => {
    expect((await t.app.inject({ method: 'POST', url: '/oauth2/logout' })).statusCode).toBe(401);
  });

  test('a revocation made by another instance is seen within the cache time', async () => {
    const session = await signIn(t.app);
    expect((await me(session.headers.authorization)).statusCode).toBe(200);
    const loginId = decode(session.accessToken).login_id as string;
    await t.app.ctx.database.db.collection('logins').updateOne({ _id: loginId as never }, { $set: { revoked: true } });
    clock.advance(6000);
    expect((await me(session.headers.authorization)).statusCode).toBe(401);
  });

  test('tampered tokens are refused with 401', async () => {
    const session = await signIn(t.app);
    const [header, payload, signature] = session.accessToken.split('.');
    const claims = decode(session.accessToken);
    const forged = Buffer.from(JSON.stringify({ ...claims, super_admin: true, project_id: 'other' })).toString('base64url');
    const flipped = signature.slice(0, -2) + (signature.endsWith('AA') ? 'BB' : 'AA');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${payload}.`;
    const { privateKey } = await generateKeyPair('ES256');
    const foreign = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' }).sign(privateKey);
    for (const bad of [`${header}.${forged}.${signature}`, `${header}.${payload}.${flipped}`, none, foreign, 'garbage', '']) {
      const res = await me(`Bearer ${bad}`);
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    }
    expect((await me(session.headers.authorization)).statusCode).toBe(200);
  });

  test('an id token or refresh token is not an access token', async () => {
    const session = await signIn(t.app);
    expect((await me(`Bearer ${session.refreshToken}`)).statusCode).toBe(401);
  });

  test('an expired access token is 401 and a refresh gives a working one', async () => {
    const session = await signIn(t.app);
    clock.advance(3601_000);
    const res = await me(session.headers.authorization);
    expect(res.statusCode).toBe(401);
    expect(res.json().issue[0].details.text).toMatch(/expired/);
    const renewed = await refresh(session.refreshToken as string);
    expect(renewed.statusCode).toBe(200);
    expect((await me(`Bearer ${renewed.json().access_token}`)).statusCode).toBe(200);
  });

  test('no or unsupported Authorization header is 401', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/auth/me' })).statusCode).toBe(401);
    expect((await me('Token abc')).statusCode).toBe(401);
    expect((await me('Bearer')).statusCode).toBe(401);
  });

  test('the public keys are published and hold no private part', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    expect(res.statusCode).toBe(200);
    const { keys } = res.json();
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: expect.any(String) });
    expect(keys[0].d).toBeUndefined();
  });
});
