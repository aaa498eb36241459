import type { MedplumClient } from '@medplum/core';
import { ADMIN_EMAIL, ADMIN_PASSWORD } from '../helpers/app';
import { signIn } from '../helpers/auth';
import { allowPlainPkceFallback, listen, newMedplumClient, signInClient } from '../helpers/medplum';
import { useTestApp } from '../helpers/suite';

/** The real client library against a listening server (system clock: it checks exp itself). */
describe('MedplumClient against this server', () => {
  const t = useTestApp();
  let baseUrl: string;

  beforeAll(async () => {
    baseUrl = await listen(t.app);
  });
  allowPlainPkceFallback();

  const newClient = (): MedplumClient => newMedplumClient(baseUrl);

  test('startLogin + processCode signs in; the profile, project and membership are known', async () => {
    const medplum = newClient();
    const result = await medplum.startLogin({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
    expect(result.code).toEqual(expect.any(String));
    const profile = await medplum.processCode(result.code as string);
    expect(profile).toMatchObject({ resourceType: 'Practitioner' });
    expect(medplum.isAuthenticated()).toBe(true);
    expect(medplum.isSuperAdmin()).toBe(true);
    expect(medplum.isProjectAdmin()).toBe(true);
    expect(medplum.getProject()).toMatchObject({ name: 'Super Admin' });
    const me = await medplum.get('auth/me');
    expect(me.user.email).toBe(ADMIN_EMAIL);
  });

  test('with WebCrypto reachable as in a browser, the client uses S256 and it verifies', async () => {
    const medplum = newClient();
    const g = globalThis as { window?: unknown };
    g.window = { crypto: globalThis.crypto, btoa: globalThis.btoa.bind(globalThis) };
    let challenge;
    try {
      challenge = await medplum.startPkce();
    } finally {
      delete g.window;
    }
    expect(challenge.codeChallengeMethod).toBe('S256');
    const { code } = await medplum.startLogin({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD, ...challenge });
    await medplum.processCode(code as string);
    expect(medplum.isAuthenticated()).toBe(true);
  });

  test('the token works on the FHIR API', async () => {
    const medplum = newClient();
    await signInClient(medplum);
    const projectId = medplum.getProject()?.id as string;
    const project = await medplum.readResource('Project', projectId);
    expect(project).toMatchObject({ resourceType: 'Project', id: projectId, name: 'Super Admin' });
  });

  test('a wrong password is an error the client surfaces', async () => {
    const medplum = newClient();
    await expect(medplum.startLogin({ email: ADMIN_EMAIL, password: 'wrong-password' })).rejects.toThrow('Email or password is invalid');
  });

  test('signOut revokes the session on the server', async () => {
    const medplum = newClient();
    await signInClient(medplum);
    const token = medplum.getAccessToken() as string;
    await medplum.signOut();
    const res = await t.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${token}` } });
    expect(res.statusCode).toBe(401);
  });

  test('startClientLogin signs a system client in (client_credentials)', async () => {
    const admin = await signIn(t.app);
    const projectId = (admin.project?.reference as string).split('/')[1];
    const created = await t.app.inject({ method: 'POST', url: `/admin/projects/${projectId}/client`, headers: admin.headers, payload: { name: 'Mirror' } });
    expect(created.statusCode).toBe(201);
    const { id, secret } = created.json();
    const medplum = newClient();
    const profile = await medplum.startClientLogin(id, secret);
    expect(profile).toMatchObject({ resourceType: 'ClientApplication', id });
    const me = await medplum.get('auth/me');
    expect(me.user).toBeUndefined();
    expect(me.membership.profile.reference).toBe(`ClientApplication/${id}`);
    expect(JSON.stringify(me)).not.toContain(secret);
  });
});
