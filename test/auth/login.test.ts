import { randomBytes } from 'node:crypto';
import { ADMIN_EMAIL, ADMIN_PASSWORD, snapshotDatabase, TestClock } from '../helpers/app';
import { useTestApp } from '../helpers/suite';
import { pkce, signIn } from '../helpers/auth';

describe('password sign-in (/auth/login, /oauth2/token authorization_code)', () => {
  const clock = new TestClock();
  const t = useTestApp({ clock });

  async function login(body: Record<string, unknown>) {
    return t.app.inject({ method: 'POST', url: '/auth/login', payload: body });
  }
  async function token(form: Record<string, string>, headers: Record<string, string> = {}) {
    return t.app.inject({
      method: 'POST',
      url: '/oauth2/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      payload: new URLSearchParams(form).toString(),
    });
  }

  test('the administrator signs in and /auth/me describes the session', async () => {
    const session = await signIn(t.app);
    expect(session.accessToken.split('.')).toHaveLength(3);
    expect(session.project?.reference).toMatch(/^Project\//);
    expect(session.profile?.reference).toMatch(/^Practitioner\//);
    const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: session.headers });
    expect(me.statusCode).toBe(200);
    const body = me.json();
    // Exactly these fields (firstName and lastName are required elements of a User resource).
    expect(body.user).toEqual({ resourceType: 'User', id: expect.any(String), firstName: 'Super', lastName: 'Admin', email: ADMIN_EMAIL });
    expect(body.project).toMatchObject({ resourceType: 'Project', name: 'Super Admin', superAdmin: true });
    expect(body.membership).toMatchObject({ resourceType: 'ProjectMembership', admin: true });
    expect(`Practitioner/${body.profile.id}`).toBe(session.profile?.reference);
    expect(me.body).not.toContain('passwordHash');
  });

  test('the token response has the fields MedplumClient reads', async () => {
    const { verifier, challenge } = pkce();
    const res = await login({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD, codeChallenge: challenge, codeChallengeMethod: 'S256' });
    expect(res.statusCode).toBe(200);
    const { login: loginId, code } = res.json();
    expect(typeof loginId).toBe('string');
    const tok = await token({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id: '' });
    expect(tok.statusCode).toBe(200);
    expect(tok.headers['cache-control']).toBe('no-store');
    const body = tok.json();
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'openid', project: { reference: expect.stringMatching(/^Project\//) } });
    for (const field of ['access_token', 'id_token', 'refresh_token']) {
      expect(typeof body[field]).toBe('string');
    }
    const payload = JSON.parse(Buffer.from(body.access_token.split('.')[1], 'base64url').toString());
    expect(payload.login_id).toBe(loginId);
    expect(payload.exp - payload.iat).toBe(3600);
  });

  test('JSON token requests work too', async () => {
    const { verifier, challenge } = pkce();
    const { code } = (await login({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD, codeChallenge: challenge, codeChallengeMethod: 'S256' })).json();
    const tok = await t.app.inject({ method: 'POST', url: '/oauth2/token', payload: { grant_type: 'authorization_code', code, code_verifier: verifier } });
    expect(tok.statusCode).toBe(200);
  });

  test('an unknown email and a wrong password get the same answer, and nothing is written', async () => {
    const before = await snapshotDatabase(t.app);
    const unknown = await login({ email: 'nobody@example.com', password: ADMIN_PASSWORD, codeChallenge: 'x', codeChallengeMethod: 'plain' });
    const wrong = await login({ email: ADMIN_EMAIL, password: 'not-the-password', codeChallenge: 'x', codeChallengeMethod: 'plain' });
    expect(unknown.statusCode).toBe(400);
    expect(wrong.statusCode).toBe(400);
    expect(unknown.body).toBe(wrong.body);
    expect(wrong.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ details: { text: 'Email or password is invalid' } }] });
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('email is case-insensitive', async () => {
    const res = await login({ email: ADMIN_EMAIL.toUpperCase(), password: ADMIN_PASSWORD, codeChallenge: 'x', codeChallengeMethod: 'plain' });
    expect(res.statusCode).toBe(200);
  });

  test('malformed login bodies are 400 naming the field', async () => {
    const noPassword = await login({ email: ADMIN_EMAIL });
    expect(noPassword.statusCode).toBe(400);
    expect(noPassword.json().issue[0].expression).toEqual(['body.password']);
    const badMethod = await login({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD, codeChallenge: 'x', codeChallengeMethod: 'S512' });
    expect(badMethod.statusCode).toBe(400);
    expect(badMethod.json().issue[0].expression).toEqual(['body.codeChallengeMethod']);
    const noMethod = await login({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD, codeChallenge: 'x' });
    expect(noMethod.statusCode).toBe(400);
    expect(noMethod.json().issue[0].expression).toEqual(['codeChallengeMethod']);
  });

  describe('PKCE', () => {
    test('a wrong verifier, a missing verifier and a missing challenge are refused', async () => {
      const { challenge } = pkce();
      const { code } = (await login({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD, codeChallenge: challenge, codeChallengeMethod: 'S256' })).json();
      const wrong = await token({ grant_type: 'authorization_code', code, code_verifier: pkce().verifier });
      expect(wrong.statusCode).toBe(400);
      expect(wrong.json()).toEqual({ error: 'invalid_grant', error_description: expect.stringContaining('code_verifier') });
      const missing = await token({ grant_type: 'authorization_code', code });
      expect(missing.statusCode).toBe(400);
      expect(missing.json()).toEqual({ error: 'invalid_request', error_description: 'Missing code_verifier' });

      const noChallenge = (await login({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD })).json();
      const res = await token({ grant_type: 'authorization_code', code: noChallenge.code, code_verifier: 'anything' });
      expect(res.statusCode).toBe(400);
      expect(res.json().error_description).toMatch(/PKCE/);
    });

    test('the plain method works', async () => {
      const verifier = randomBytes(32).toString('base64url');
      const { code } = (await login({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD, codeChallenge: verifier, codeChallengeMethod: 'plain' })).json();
      expect((await token({ grant_type: 'authorization_code', code, code_verifier: `${verifier}x` })).statusCode).toBe(400);
      expect((await token({ grant_type: 'authorization_code', code, code_verifier: verifier })).statusCode).toBe(200);
    });
  });

  test('a code works once; replaying it ends the session it opened', async () => {
    const { verifier, challenge } = pkce();
    const { code } = (await login({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD, codeChallenge: challenge, codeChallengeMethod: 'S256' })).json();
    const first = await token({ grant_type: 'authorization_code', code, code_verifier: verifier });
    expect(first.statusCode).toBe(200);
    const headers = { authorization: `Bearer ${first.json().access_token}` };
    expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers })).statusCode).toBe(200);
    const second = await token({ grant_type: 'authorization_code', code, code_verifier: verifier });
    expect(second.statusCode).toBe(400);
    expect(second.json().error).toBe('invalid_grant');
    expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers })).statusCode).toBe(401);
  });

  test('the same code exchanged twice at once: exactly one succeeds', async () => {
    const { verifier, challenge } = pkce();
    const { code } = (await login({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD, codeChallenge: challenge, codeChallengeMethod: 'S256' })).json();
    const results = await Promise.all([1, 2, 3].map(() => token({ grant_type: 'authorization_code', code, code_verifier: verifier })));
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 400, 400]);
  });

  test('an unknown code and a code older than 60 seconds are refused', async () => {
    expect((await token({ grant_type: 'authorization_code', code: 'nope', code_verifier: 'x' })).json()).toMatchObject({ error: 'invalid_grant' });
    const { verifier, challenge } = pkce();
    const { code } = (await login({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD, codeChallenge: challenge, codeChallengeMethod: 'S256' })).json();
    clock.advance(61_000);
    const res = await token({ grant_type: 'authorization_code', code, code_verifier: verifier });
    expect(res.statusCode).toBe(400);
    expect(res.json().error_description).toMatch(/expired/);
  });

  test('missing or unsupported grant types are OAuth errors', async () => {
    expect((await token({})).json()).toEqual({ error: 'invalid_request', error_description: 'Missing grant_type' });
    expect((await token({ grant_type: 'password' })).json()).toMatchObject({ error: 'unsupported_grant_type' });
  });
});

describe('OpenAPI', () => {
  const t = useTestApp();

  test('/docs documents the auth request bodies', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json();
    const loginBody = doc.paths['/auth/login'].post.requestBody.content['application/json'].schema;
    expect(loginBody.required).toEqual(['email', 'password']);
    expect(Object.keys(loginBody.properties)).toEqual(expect.arrayContaining(['projectId', 'codeChallenge', 'codeChallengeMethod', 'scope']));
    expect(doc.paths['/oauth2/token'].post.requestBody.content['application/x-www-form-urlencoded'].schema.properties.grant_type).toBeDefined();
    expect(doc.paths['/auth/profile'].post.requestBody).toBeDefined();
    expect(doc.paths['/admin/projects/{id}/client'].post.requestBody.content['application/json'].schema.required).toEqual(['name']);
    expect(doc.paths['/auth/me'].get).toBeDefined();
  });
});
