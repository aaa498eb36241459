import type { ClientApplication, ProjectMembership } from '@medplum/fhirtypes';
import { SESSION_CACHE_TTL_MS } from '../../src/accounts/account-services';
import { updateResource } from '../../src/fhir/repository';
import { decodeJwt } from 'jose';
import { TestClock } from '../helpers/app';
import { addMembership, createUser, signIn } from '../helpers/auth';
import { createProjectAdmin, type ProjectAdmin } from '../helpers/fhir';
import { form } from '../helpers/auth';
import { repoOf, uniqueEmail } from '../helpers/fixtures';
import { useTestApp } from '../helpers/suite';

/**
 * Discovery documents, OpenID Connect userinfo and RFC 7662 introspection, as another server
 * uses them: find the endpoints, check a token with its client credentials.
 */
describe('discovery, userinfo and introspection', () => {
  const clock = new TestClock();
  const t = useTestApp({ clock, env: { BASE_URL: 'https://fhir.example.org/' } });
  let admin: ProjectAdmin;
  let other: ProjectAdmin;
  let client: ClientApplication & { id: string; secret: string };
  let basic: string;
  const adminEmail = uniqueEmail('peer-a');
  /** Another sign-in of the project's administrator (createProjectAdmin's password). */
  const signInAdmin = () => signIn(t.app, adminEmail, 'second-admin-password-42');

  beforeAll(async () => {
    admin = await createProjectAdmin(t.app, 'Peer A', adminEmail);
    other = await createProjectAdmin(t.app, 'Peer B', uniqueEmail('peer-b'));
    const res = await t.app.inject({ method: 'POST', url: `/admin/projects/${admin.projectId}/client`, headers: admin.session.headers, payload: { name: 'Peer server' } });
    expect(res.statusCode).toBe(201);
    client = res.json();
    basic = `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`;
  });

  const introspect = (token: string, authorization: string | null = basic, extra: Record<string, string> = {}) => {
    const request = form({ token, ...extra });
    return t.app.inject({ method: 'POST', url: '/oauth2/introspect', headers: { ...request.headers, ...(authorization ? { authorization } : {}) }, payload: request.payload });
  };

  test('OpenID Connect discovery names this server’s issuer, endpoints, keys, grants and PKCE methods', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/.well-known/openid-configuration' });
    expect(res.statusCode).toBe(200);
    const config = res.json();
    expect(config).toMatchObject({
      issuer: 'https://fhir.example.org/',
      token_endpoint: 'https://fhir.example.org/oauth2/token',
      userinfo_endpoint: 'https://fhir.example.org/oauth2/userinfo',
      introspection_endpoint: 'https://fhir.example.org/oauth2/introspect',
      jwks_uri: 'https://fhir.example.org/.well-known/jwks.json',
      grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
      code_challenge_methods_supported: ['S256', 'plain'],
      id_token_signing_alg_values_supported: ['ES256'],
    });
    // No browser redirect flow exists, so none is advertised.
    expect(config.authorization_endpoint).toBeUndefined();
    // The issuer is the one in the tokens, and the keys are published where it says.
    expect(decodeJwt(admin.session.accessToken).iss).toBe(config.issuer);
    const jwks = await t.app.inject({ method: 'GET', url: new URL(config.jwks_uri).pathname });
    expect(jwks.json().keys[0]).toMatchObject({ alg: 'ES256', use: 'sig' });
    for (const endpoint of [config.token_endpoint, config.introspection_endpoint, config.userinfo_endpoint]) {
      expect((await t.app.inject({ method: 'POST', url: new URL(endpoint).pathname })).statusCode).not.toBe(404);
    }
  });

  test('SMART configuration lists only capabilities this server has', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/.well-known/smart-configuration' });
    expect(res.statusCode).toBe(200);
    const smart = res.json();
    expect(smart).toMatchObject({ issuer: 'https://fhir.example.org/', token_endpoint: 'https://fhir.example.org/oauth2/token', code_challenge_methods_supported: ['S256'] });
    expect(smart.capabilities.sort()).toEqual(['client-confidential-symmetric', 'client-public', 'permission-offline', 'sso-openid-connect']);
    expect(smart.capabilities.some((c: string) => c.startsWith('launch-'))).toBe(false);
  });

  test('userinfo answers the caller’s subject, email, name and fhirUser, by GET and POST, for bearer tokens only', async () => {
    for (const method of ['GET', 'POST'] as const) {
      const res = await t.app.inject({ method, url: '/oauth2/userinfo', headers: admin.session.headers });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({
        sub: admin.userId,
        fhirUser: `Practitioner/${admin.practitionerId}`,
        name: 'Peer A Admin',
        given_name: 'Peer A',
        family_name: 'Admin',
        email: adminEmail,
        email_verified: false,
      });
    }
    expect((await t.app.inject({ method: 'GET', url: '/oauth2/userinfo' })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: '/oauth2/userinfo', headers: { authorization: basic } })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: '/oauth2/userinfo', headers: { authorization: 'Bearer not-a-token' } })).statusCode).toBe(401);
  });

  test('introspection: a live token of the client’s project is active, with its subject, expiry, scope and project', async () => {
    const res = await introspect(admin.session.accessToken);
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const claims = decodeJwt(admin.session.accessToken);
    expect(res.json()).toEqual({
      active: true,
      token_type: 'Bearer',
      sub: admin.userId,
      username: admin.userId,
      scope: 'openid',
      exp: claims.exp,
      iat: claims.iat,
      iss: 'https://fhir.example.org/',
      fhirUser: `Practitioner/${admin.practitionerId}`,
      project: { reference: `Project/${admin.projectId}` },
    });
    // client_secret_post works the same.
    const posted = await introspect(admin.session.accessToken, null, { client_id: client.id, client_secret: client.secret });
    expect(posted.json()).toMatchObject({ active: true, sub: admin.userId });
    expect(posted.body).not.toContain(client.secret);
  });

  test('unknown, garbage, refresh, another project’s, tampered, expired and signed-out tokens are all the same { active: false }', async () => {
    const root = await signIn(t.app);
    const member = await signInAdmin();
    const [head, body] = member.accessToken.split('.');
    const tokens = {
      empty: '',
      garbage: 'garbage',
      unsignedLookalike: `${head}.${body}.`,
      tampered: `${head}.${Buffer.from(JSON.stringify({ ...decodeJwt(member.accessToken), sub: 'someone-else' })).toString('base64url')}.${member.accessToken.split('.')[2]}`,
      refresh: member.refreshToken as string,
      otherProject: other.session.accessToken,
      superAdminProject: root.accessToken,
    };
    const bodies = new Set<string>();
    for (const [name, token] of Object.entries(tokens)) {
      const res = await introspect(token);
      expect([name, res.statusCode]).toEqual([name, 200]);
      expect([name, res.json()]).toEqual([name, { active: false }]);
      bodies.add(res.body);
    }
    expect((await introspect(member.accessToken)).json().active).toBe(true);
    await t.app.inject({ method: 'POST', url: '/oauth2/logout', headers: member.headers });
    const signedOut = await introspect(member.accessToken);
    bodies.add(signedOut.body);
    // Expired: the clock passes the token's lifetime.
    const fresh = await signInAdmin();
    expect((await introspect(fresh.accessToken)).json().active).toBe(true);
    clock.advance(3601_000);
    bodies.add((await introspect(fresh.accessToken)).body);
    expect([...bodies]).toEqual(['{"active":false}']);
  });

  test('the caller must be a client: no credentials, a wrong secret or a bearer token are 401 with a Basic challenge', async () => {
    const fresh = await signIn(t.app);
    for (const authorization of [null, `Basic ${Buffer.from(`${client.id}:wrong`).toString('base64')}`, `Basic ${Buffer.from('unknown:secret').toString('base64')}`, fresh.headers.authorization]) {
      const res = await introspect(fresh.accessToken, authorization);
      expect([authorization, res.statusCode]).toEqual([authorization, 401]);
      expect(res.headers['www-authenticate']).toMatch(/^Basic/);
      expect(res.json().resourceType).toBe('OperationOutcome');
      expect(res.body).not.toContain('active');
    }
  });

  test('a deactivated membership’s token is inactive; a switched-off client may not introspect at all', async () => {
    const email = uniqueEmail('peer-member');
    const user = await createUser(t.app, email, 'member-password-long-1', admin.projectId);
    const { membership } = await addMembership(t.app, admin.projectId, `User/${user.id}`);
    const member = await signIn(t.app, email, 'member-password-long-1', admin.projectId);
    expect((await introspect(member.accessToken)).json().active).toBe(true);
    // Deactivated straight in the database (as another instance would): known here once the session caches expire.
    await updateResource<ProjectMembership>(repoOf(t.app), { ...membership, active: false });
    clock.advance(SESSION_CACHE_TTL_MS + 1);
    expect((await introspect(member.accessToken)).json()).toEqual({ active: false });
    expect((await t.app.inject({ method: 'GET', url: '/oauth2/userinfo', headers: member.headers })).statusCode).toBe(401);

    // The client is switched off by the super administrator: introspection refuses it (401).
    const root = await signIn(t.app);
    const stored = (await t.app.inject({ method: 'GET', url: `/fhir/R4/ClientApplication/${client.id}`, headers: root.headers })).json();
    const disabled = await t.app.inject({ method: 'PUT', url: `/fhir/R4/ClientApplication/${client.id}`, headers: { ...root.headers, 'content-type': 'application/fhir+json' }, payload: { ...stored, status: 'off' } });
    expect(disabled.statusCode).toBe(200);
    const refused = await introspect(root.accessToken);
    expect(refused.statusCode).toBe(401);
    expect(refused.headers['www-authenticate']).toMatch(/^Basic/);
  });
});
