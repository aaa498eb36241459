import type { ClientApplication } from '@medplum/fhirtypes';
import { snapshotDatabase } from '../helpers/app';
import { allowPlainPkceFallback, listen, newMedplumClient, signInClient } from '../helpers/medplum';
import { useSignIn, useTestApp } from '../helpers/suite';
import { createMember } from '../helpers/activation';
import { createProject } from '../helpers/auth';

/**
 * The shapes the Medplum client library and app send and read, as the real MedplumClient sends
 * them: the ClientApplication body of POST /admin/projects/{id}/client (Medplum's own server
 * tests send `{ resourceType: 'ClientApplication', name }`), and GET /auth/mfa/status with the
 * fields of Medplum's server (`enrolled`, `enrolledMethods`, `allowedMethods`, enrollment offer)
 * plus `mfaRequired`.
 */
describe('Medplum-shaped admin client creation and MFA status', () => {
  const t = useTestApp();
  const admin = useSignIn(t);
  let baseUrl: string;
  let projectId: string;

  beforeAll(async () => {
    baseUrl = await listen(t.app);
    projectId = (await createProject(t.app, 'Shapes')).id;
  });
  allowPlainPkceFallback();

  test('MedplumClient posts { resourceType: "ClientApplication", name }: 201, the client and its secret, and the client can sign in', async () => {
    const medplum = newMedplumClient(baseUrl);
    await signInClient(medplum);
    const client = (await medplum.post(`admin/projects/${projectId}/client`, { resourceType: 'ClientApplication', name: 'Test client' })) as ClientApplication & {
      secret: string;
    };
    expect(client).toMatchObject({ resourceType: 'ClientApplication', name: 'Test client', id: expect.any(String), meta: { project: projectId } });
    expect(client.secret).toMatch(/^[0-9a-f]{64}$/);

    const system = newMedplumClient(baseUrl);
    await system.startClientLogin(client.id as string, client.secret);
    expect(system.isAuthenticated()).toBe(true);
    expect((await system.get('auth/me')).membership.profile.reference).toBe(`ClientApplication/${client.id}`);
  });

  test('the Medplum app body (empty description and redirectUri) is accepted', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: `/admin/projects/${projectId}/client`,
      headers: admin.headers,
      payload: { name: 'From the app', description: '', redirectUri: '' },
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).not.toHaveProperty('description');
  });

  test('another resourceType is refused naming the field, and nothing is written', async () => {
    const before = await snapshotDatabase(t.app);
    const res = await t.app.inject({ method: 'POST', url: `/admin/projects/${projectId}/client`, headers: admin.headers, payload: { resourceType: 'Patient', name: 'Nope' } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ expression: ['body.resourceType'] }] });
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('GET /auth/mfa/status tells whether MFA is required for the account', async () => {
    const plain = await createMember(t.app);
    const medplum = newMedplumClient(baseUrl);
    await signInClient(medplum, plain.email, plain.password);
    expect(await medplum.get('auth/mfa/status')).toEqual({
      enrolled: false,
      mfaRequired: false,
      enrolledMethods: [],
      allowedMethods: ['totp'],
      enrollUri: expect.stringMatching(/^otpauth:/),
      enrollQrCode: expect.stringMatching(/^data:image\/png;base64,/),
    });

    const superAdmin = await t.app.inject({ method: 'GET', url: '/auth/mfa/status', headers: admin.headers });
    expect(superAdmin.json()).toMatchObject({ enrolled: false, mfaRequired: false });
  });
});
