import type { InjectOptions } from 'fastify';
import { ADMIN_EMAIL, ADMIN_PASSWORD } from '../helpers/app';
import { capturingLogger } from '../helpers/log-capture';
import { useTestApp } from '../helpers/suite';
import { addMembership, createProject, createUser, form, pkce } from '../helpers/auth';
import { codeAt, secretOf, wrongCodeAt } from '../helpers/mfa';

/**
 * Runs every auth flow (sign-in, refresh, system clients, an invite with mandatory MFA, its
 * activation, MFA enrollment and verification) and scans every response body and every log line
 * for the secrets the server holds: passwords, password hashes, client secrets and their hashes,
 * code and refresh hashes, refresh tokens, activation secrets and their hashes, TOTP secrets,
 * the private signing key. A secret may appear only in the one response that hands it out (the
 * client secret at creation, a refresh token from /oauth2/token, the activation link in the
 * $invite answer and on its page before use, the TOTP secret in the enrollment offer).
 */
describe('no secret in any response body or log line', () => {
  const bodies: { url: string; body: string }[] = [];
  const logLines: string[] = [];
  const USER_PASSWORD = 'multi-secret-password-7';
  const INVITEE = 'mfa-invitee@example.com';
  const INVITEE_PASSWORD = 'invitee-secret-password-8';
  /** Which response (index in `bodies`) hands out which secret: the only place it may appear. */
  const handedOut: { index: number; secret: string }[] = [];
  const refreshTokens: string[] = [];
  const issuedHere = (secret: string): void => {
    handedOut.push({ index: bodies.length - 1, secret });
  };
  const t = useTestApp(() => {
    return { logger: capturingLogger(logLines, 'debug') };
  });

  async function call(options: InjectOptions) {
    const res = await t.app.inject(options);
    bodies.push({ url: String(options.url), body: res.body });
    return res;
  }

  async function signInFlow(email: string, password: string, projectId?: string) {
    const { verifier, challenge } = pkce();
    const login = await call({ method: 'POST', url: '/auth/login', payload: { email, password, projectId, codeChallenge: challenge, codeChallengeMethod: 'S256' } });
    let body = login.json();
    if (body.memberships) {
      body = (await call({ method: 'POST', url: '/auth/profile', payload: { login: body.login, profile: body.memberships[0].id } })).json();
    }
    return exchange(body.code, verifier);
  }

  /** /oauth2/token for a code; the refresh token is handed out by this response only. */
  async function exchange(code: string, verifier: string) {
    return tokens(await call({ method: 'POST', url: '/oauth2/token', ...form({ grant_type: 'authorization_code', code, code_verifier: verifier }) }));
  }

  function tokens(res: { json(): Record<string, string> }) {
    const body = res.json();
    if (body.refresh_token) {
      refreshTokens.push(body.refresh_token);
      issuedHere(body.refresh_token);
    }
    return body;
  }

  test('every flow, then the scan', async () => {
    const admin = await signInFlow(ADMIN_EMAIL, ADMIN_PASSWORD);
    const headers = { authorization: `Bearer ${admin.access_token}` };
    await call({ method: 'GET', url: '/auth/me', headers });

    const p1 = await createProject(t.app, 'One');
    const p2 = await createProject(t.app, 'Two');
    const user = await createUser(t.app, 'multi@example.com', USER_PASSWORD);
    await addMembership(t.app, p1.id, `User/${user.id}`);
    await addMembership(t.app, p2.id, `User/${user.id}`);
    const multi = await signInFlow('multi@example.com', USER_PASSWORD);
    await call({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${multi.access_token}` } });
    await call({ method: 'POST', url: '/auth/login', payload: { email: 'multi@example.com', password: 'wrong-password-1' } });

    const created = await call({ method: 'POST', url: `/admin/projects/${p1.id}/client`, headers, payload: { name: 'Peer' } });
    const { id: clientId, secret: clientSecret } = created.json();
    expect(created.body).toContain(clientSecret);
    issuedHere(clientSecret);
    const client = (await call({ method: 'POST', url: '/oauth2/token', ...form({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }) })).json();
    await call({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${client.access_token}` } });
    await call({ method: 'GET', url: '/auth/me', headers: { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` } });
    await call({ method: 'POST', url: '/oauth2/token', ...form({ grant_type: 'client_credentials', client_id: clientId, client_secret: 'wrong' }) });

    // An invite with mandatory MFA: the activation link comes back once, in the $invite answer
    // (the admin form answers the membership only).
    const invited = await call({
      method: 'POST',
      url: `/fhir/R4/Project/${p1.id}/$invite`,
      headers: { ...headers, 'content-type': 'application/fhir+json' },
      payload: JSON.stringify({ resourceType: 'Practitioner', firstName: 'Mia', lastName: 'Fa', email: INVITEE, sendEmail: false, mfaRequired: true }),
    });
    expect(invited.statusCode).toBe(201);
    const activationUrl = (invited.json().parameter as { name: string; valueUri?: string }[]).find((p) => p.name === 'activationUrl')?.valueUri as string;
    const activationPath = new URL(activationUrl).pathname;
    const [, , activationId, activationSecret] = activationPath.split('/');
    issuedHere(activationSecret);
    const adminForm = await call({
      method: 'POST',
      url: `/admin/projects/${p1.id}/invite`,
      headers,
      payload: { resourceType: 'Practitioner', firstName: 'Ada', lastName: 'Min', email: 'admin-form-invitee@example.com', sendEmail: false, mfaRequired: true },
    });
    expect(adminForm.statusCode).toBe(201);
    expect((await call({ method: 'GET', url: activationPath })).statusCode).toBe(200);
    issuedHere(activationSecret); // the page's form carries it, before use
    expect((await call({ method: 'POST', url: '/auth/setpassword', payload: { id: activationId, secret: activationSecret, password: INVITEE_PASSWORD } })).statusCode).toBe(200);
    // After use: the page and a second use are refused, and never show it again.
    expect((await call({ method: 'GET', url: activationPath })).statusCode).toBe(400);
    expect((await call({ method: 'POST', url: '/auth/setpassword', payload: { id: activationId, secret: activationSecret, password: INVITEE_PASSWORD } })).statusCode).toBe(400);

    // First sign-in: MFA enrollment is required; the offer is the one response with the TOTP secret.
    const enrollPkce = pkce();
    const offer = (
      await call({ method: 'POST', url: '/auth/login', payload: { email: INVITEE, password: INVITEE_PASSWORD, projectId: p1.id, codeChallenge: enrollPkce.challenge, codeChallengeMethod: 'S256' } })
    ).json();
    expect(offer.mfaEnrollRequired).toBe(true);
    const totpSecret = secretOf(offer.enrollUri);
    issuedHere(totpSecret);
    const clock = t.app.ctx.clock;
    const enrolled = (await call({ method: 'POST', url: '/auth/mfa/login-enroll', payload: { login: offer.login, token: codeAt(totpSecret, clock) } })).json();
    const invitee = await exchange(enrolled.code, enrollPkce.verifier);
    const inviteeHeaders = { authorization: `Bearer ${invitee.access_token}` };
    expect((await call({ method: 'GET', url: '/auth/mfa/status', headers: inviteeHeaders })).json()).toEqual({ enrolled: true, mfaRequired: true, enrolledMethods: ['totp'], allowedMethods: ['totp'] });
    await call({ method: 'POST', url: '/auth/mfa/enroll', headers: inviteeHeaders, payload: { token: codeAt(totpSecret, clock) } });
    await call({ method: 'GET', url: '/auth/me', headers: inviteeHeaders });
    await call({ method: 'GET', url: '/fhir/R4/User', headers: inviteeHeaders });
    await call({ method: 'GET', url: `/fhir/R4/User?email=${encodeURIComponent(INVITEE)}`, headers });
    // Second sign-in: the verify step (a later code: each code works once).
    const verifyPkce = pkce();
    const step = (
      await call({ method: 'POST', url: '/auth/login', payload: { email: INVITEE, password: INVITEE_PASSWORD, projectId: p1.id, codeChallenge: verifyPkce.challenge, codeChallengeMethod: 'S256' } })
    ).json();
    expect(step).toEqual({ login: expect.any(String), mfaRequired: true });
    await call({ method: 'POST', url: '/auth/mfa/verify', payload: { login: step.login, token: wrongCodeAt(totpSecret, clock) } });
    const verified = (await call({ method: 'POST', url: '/auth/mfa/verify', payload: { login: step.login, token: codeAt(totpSecret, clock, 1) } })).json();
    const again = await exchange(verified.code, verifyPkce.verifier);
    await call({ method: 'GET', url: '/auth/mfa/status', headers: { authorization: `Bearer ${again.access_token}` } });

    for (const type of ['User', 'ClientApplication', 'ProjectMembership', 'Project']) {
      await call({ method: 'GET', url: `/fhir/R4/${type}`, headers });
      await call({ method: 'GET', url: `/fhir/R4/${type}/_history`, headers });
    }
    await call({ method: 'GET', url: `/fhir/R4/User/${user.id}`, headers });
    await call({ method: 'GET', url: `/fhir/R4/ClientApplication/${clientId}`, headers });
    await call({ method: 'GET', url: '/.well-known/jwks.json' });
    // Rotation, then a replay of the rotated token (which ends the admin's sign-in: done last).
    const refreshed = tokens(await call({ method: 'POST', url: '/oauth2/token', ...form({ grant_type: 'refresh_token', refresh_token: admin.refresh_token }) }));
    await call({ method: 'POST', url: '/oauth2/token', ...form({ grant_type: 'refresh_token', refresh_token: admin.refresh_token }) });
    await call({ method: 'POST', url: '/oauth2/logout', headers: { authorization: `Bearer ${refreshed.access_token}` } });

    // Collect what must never be shown.
    const db = t.app.ctx.database.db;
    const secrets = new Set<string>([ADMIN_PASSWORD, USER_PASSWORD, INVITEE_PASSWORD, clientSecret, activationSecret, totpSecret, ...refreshTokens]);
    for (const doc of await db.collection('credentials').find({}).toArray()) {
      for (const field of ['passwordHash', 'clientSecretHash', 'mfaSecret', 'mfaPendingSecret']) {
        if (typeof doc[field] === 'string') {
          secrets.add(doc[field]);
        }
      }
    }
    for (const doc of await db.collection('logins').find({}).toArray()) {
      for (const field of ['codeHash', 'refreshSecretHash']) {
        if (typeof doc[field] === 'string') {
          secrets.add(doc[field]);
        }
      }
    }
    for (const doc of await db.collection('activations').find({}).toArray()) {
      secrets.add(doc.secretHash);
    }
    const key = await db.collection('keys').findOne({});
    secrets.add(key?.privateJwk.d);
    // 3 passwords and their hashes, the client secret and its hash, an activation secret and 2
    // hashes, a TOTP secret, 5 refresh tokens, code and refresh hashes, the signing key.
    expect(refreshTokens).toHaveLength(5);
    expect(secrets.size).toBeGreaterThanOrEqual(20);

    expect(bodies.length).toBeGreaterThan(40);
    bodies.forEach(({ url, body }, index) => {
      for (const secret of secrets) {
        if (body.includes(secret) && !handedOut.some((h) => h.index === index && h.secret === secret)) {
          throw new Error(`a secret leaked in the response of ${url}`);
        }
      }
    });
    expect(logLines.length).toBeGreaterThan(10);
    for (const line of logLines) {
      for (const secret of secrets) {
        expect(line.includes(secret)).toBe(false);
      }
      expect(line).not.toContain(admin.access_token);
      expect(line).not.toContain(admin.refresh_token);
    }
  });
});
