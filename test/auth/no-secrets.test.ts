import { Writable } from 'node:stream';
import type { InjectOptions } from 'fastify';
import type { AppConfig } from '../../src/config';
import { loggerOptions } from '../../src/http/logger';
import { ADMIN_EMAIL, ADMIN_PASSWORD, createTestApp, type TestApp } from '../helpers/app';
import { addMembership, createProject, createUser, form, pkce } from './fixtures';

/**
 * Runs every auth flow and scans every response body and every log line for the secrets the
 * server holds: passwords, password hashes, client secrets and their hashes, code and refresh
 * hashes, the private signing key.
 */
describe('no secret in any response body or log line', () => {
  let t: TestApp;
  const bodies: { url: string; body: string }[] = [];
  const logLines: string[] = [];
  const USER_PASSWORD = 'multi-secret-password-7';

  beforeAll(async () => {
    const stream = new Writable({
      write(chunk, _enc, done) {
        logLines.push(chunk.toString());
        done();
      },
    });
    t = await createTestApp({ logger: { ...loggerOptions({ logLevel: 'debug' } as AppConfig), stream } });
  });
  afterAll(async () => {
    await t.close();
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
    return (await call({ method: 'POST', url: '/oauth2/token', ...form({ grant_type: 'authorization_code', code: body.code, code_verifier: verifier }) })).json();
  }

  test('every flow, then the scan', async () => {
    const admin = await signInFlow(ADMIN_EMAIL, ADMIN_PASSWORD);
    const headers = { authorization: `Bearer ${admin.access_token}` };
    await call({ method: 'GET', url: '/auth/me', headers });
    const refreshed = (await call({ method: 'POST', url: '/oauth2/token', ...form({ grant_type: 'refresh_token', refresh_token: admin.refresh_token }) })).json();
    await call({ method: 'POST', url: '/oauth2/token', ...form({ grant_type: 'refresh_token', refresh_token: admin.refresh_token }) });

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
    const creationBody = bodies.pop() as { url: string; body: string };
    expect(creationBody.body).toContain(clientSecret);
    const client = (await call({ method: 'POST', url: '/oauth2/token', ...form({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }) })).json();
    await call({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${client.access_token}` } });
    await call({ method: 'GET', url: '/auth/me', headers: { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` } });
    await call({ method: 'POST', url: '/oauth2/token', ...form({ grant_type: 'client_credentials', client_id: clientId, client_secret: 'wrong' }) });

    for (const type of ['User', 'ClientApplication', 'ProjectMembership', 'Project']) {
      await call({ method: 'GET', url: `/fhir/R4/${type}`, headers });
      await call({ method: 'GET', url: `/fhir/R4/${type}/_history`, headers });
    }
    await call({ method: 'GET', url: `/fhir/R4/User/${user.id}`, headers });
    await call({ method: 'GET', url: `/fhir/R4/ClientApplication/${clientId}`, headers });
    await call({ method: 'GET', url: '/.well-known/jwks.json' });
    await call({ method: 'POST', url: '/oauth2/logout', headers: { authorization: `Bearer ${refreshed.access_token}` } });

    // Collect what must never be shown.
    const db = t.app.ctx.database.db;
    const secrets = new Set<string>([ADMIN_PASSWORD, USER_PASSWORD, clientSecret]);
    for (const doc of await db.collection('credentials').find({}).toArray()) {
      for (const field of ['passwordHash', 'clientSecretHash', 'mfaSecret']) {
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
    const key = await db.collection('keys').findOne({});
    secrets.add(key?.privateJwk.d);
    expect(secrets.size).toBeGreaterThanOrEqual(8);

    expect(bodies.length).toBeGreaterThan(20);
    for (const { url, body } of bodies) {
      for (const secret of secrets) {
        if (body.includes(secret)) {
          throw new Error(`a secret leaked in the response of ${url}`);
        }
      }
    }
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
