import { createResource } from '../../src/fhir/repository';
import type { AccessPolicy, Patient } from '@medplum/fhirtypes';
import { snapshotDatabase } from '../helpers/app';
import { useSignIn, useTestApp } from '../helpers/suite';
import { signIn, type SignedIn } from '../helpers/auth';
import { repoOf } from '../helpers/fixtures';
import { addMembership, createProject, createUser, form } from '../helpers/auth';

describe('system clients (ClientApplication + client_credentials)', () => {
  const t = useTestApp();
  const admin = useSignIn(t);
  let projectId: string;
  let projectAdmin: SignedIn;
  let member: SignedIn;

  beforeAll(async () => {
    projectId = (await createProject(t.app, 'Federation')).id;
    const boss = await createUser(t.app, 'boss@example.com', 'boss-password-1');
    await addMembership(t.app, projectId, `User/${boss.id}`, 'Practitioner', { admin: true });
    projectAdmin = await signIn(t.app, 'boss@example.com', 'boss-password-1', projectId);
    const worker = await createUser(t.app, 'worker@example.com', 'worker-password-1');
    await addMembership(t.app, projectId, `User/${worker.id}`);
    member = await signIn(t.app, 'worker@example.com', 'worker-password-1', projectId);
  });

  const createClient = (headers: Record<string, string>, project: string, payload: Record<string, unknown>) =>
    t.app.inject({ method: 'POST', url: `/admin/projects/${project}/client`, headers, payload });

  test('a project administrator creates a client: the secret is answered once and stored only hashed', async () => {
    const res = await createClient(projectAdmin.headers, projectId, { name: 'Peer server', description: 'Mirrors memberships' });
    expect(res.statusCode).toBe(201);
    const client = res.json();
    expect(client).toMatchObject({ resourceType: 'ClientApplication', name: 'Peer server', meta: { project: projectId, versionId: '1' } });
    expect(client.secret).toMatch(/^[0-9a-f]{64}$/);

    const stored = await t.app.ctx.database.db.collection('ClientApplication').findOne({ _id: client.id });
    expect(JSON.stringify(stored)).not.toContain(client.secret);
    const credentials = await t.app.ctx.database.db.collection('credentials').findOne({ _id: client.id });
    expect(credentials?.clientSecretHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(credentials)).not.toContain(client.secret);

    const read = await t.app.inject({ method: 'GET', url: `/fhir/R4/ClientApplication/${client.id}`, headers: projectAdmin.headers });
    expect(read.statusCode).toBe(200);
    expect(read.body).not.toContain(client.secret);
    expect(read.json().secret).toBeUndefined();

    const membership = await t.app.ctx.database.db.collection('ProjectMembership').findOne({ 'resource.user.reference': `ClientApplication/${client.id}` });
    expect(membership?.resource).toMatchObject({ project: { reference: `Project/${projectId}` }, profile: { reference: `ClientApplication/${client.id}` } });
  });

  test('non-administrators and administrators of other projects are refused, and nothing is written', async () => {
    const before = await snapshotDatabase(t.app);
    expect((await createClient(member.headers, projectId, { name: 'x' })).statusCode).toBe(403);
    expect(await snapshotDatabase(t.app)).toEqual(before);
    const otherProject = await createProject(t.app, 'Other');
    const mid = await snapshotDatabase(t.app);
    expect((await createClient(projectAdmin.headers, otherProject.id, { name: 'x' })).statusCode).toBe(403);
    expect((await createClient({}, projectId, { name: 'x' })).statusCode).toBe(401);
    expect(await snapshotDatabase(t.app)).toEqual(mid);
  });

  test('bad requests name the field', async () => {
    const noName = await createClient(admin.headers, projectId, {});
    expect(noName.statusCode).toBe(400);
    expect(noName.json().issue[0].expression).toEqual(['body.name']);
    const extra = await createClient(admin.headers, projectId, { name: 'x', secret: 'mine' });
    expect(extra.statusCode).toBe(400);
    expect(extra.json().issue[0].expression).toEqual(['body.secret']);
    const policy = await createClient(admin.headers, projectId, { name: 'x', accessPolicy: { reference: 'AccessPolicy/missing' } });
    expect(policy.statusCode).toBe(400);
    expect(policy.json().issue[0].expression).toEqual(['accessPolicy']);
    expect((await createClient(admin.headers, 'no-such-project', { name: 'x' })).statusCode).toBe(404);
  });

  test('the membership carries the access policy', async () => {
    const policy = await createResource<AccessPolicy>(repoOf(t.app), { resourceType: 'AccessPolicy', name: 'Read only', resource: [{ resourceType: 'Patient', readonly: true }] }, { project: projectId });
    const res = await createClient(admin.headers, projectId, { name: 'Reader', accessPolicy: { reference: `AccessPolicy/${policy.id}` } });
    expect(res.statusCode).toBe(201);
    const membership = await t.app.ctx.database.db.collection('ProjectMembership').findOne({ 'resource.user.reference': `ClientApplication/${res.json().id}` });
    expect(membership?.resource.accessPolicy).toEqual({ reference: `AccessPolicy/${policy.id}`, display: 'Read only' });
  });

  describe('client_credentials', () => {
    let id: string;
    let secret: string;
    let patientUrl: string;
    beforeAll(async () => {
      ({ id, secret } = (await createClient(projectAdmin.headers, projectId, { name: 'Signer' })).json());
      const patient = await createResource<Patient>(repoOf(t.app), { resourceType: 'Patient', name: [{ family: 'Mirror' }] }, { project: projectId });
      patientUrl = `/fhir/R4/Patient/${patient.id}`;
    });

    test('with the secret in the form', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/oauth2/token', ...form({ grant_type: 'client_credentials', client_id: id, client_secret: secret }) });
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body).toMatchObject({ token_type: 'Bearer', project: { reference: `Project/${projectId}` }, profile: { reference: `ClientApplication/${id}` } });
      expect(body.refresh_token).toBeUndefined();
      const claims = JSON.parse(Buffer.from(body.access_token.split('.')[1], 'base64url').toString());
      expect(claims).toMatchObject({ client_id: id, sub: id, user_type: 'ClientApplication', project_id: projectId });
      const patient = await t.app.inject({ method: 'GET', url: patientUrl, headers: { authorization: `Bearer ${body.access_token}` } });
      expect(patient.statusCode).toBe(200);
    });

    test('with HTTP Basic', async () => {
      const basic = `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
      const res = await t.app.inject({ method: 'POST', url: '/oauth2/token', ...form({ grant_type: 'client_credentials' }), headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic } });
      expect(res.statusCode).toBe(200);
    });

    test('wrong or missing credentials are OAuth errors', async () => {
      const token = (fields: Record<string, string>) => t.app.inject({ method: 'POST', url: '/oauth2/token', ...form({ grant_type: 'client_credentials', ...fields }) });
      expect((await token({ client_id: id, client_secret: 'wrong' })).json()).toEqual({ error: 'invalid_request', error_description: 'Invalid client' });
      expect((await token({ client_id: 'unknown', client_secret: secret })).json()).toEqual({ error: 'invalid_request', error_description: 'Invalid client' });
      expect((await token({ client_id: id })).json()).toEqual({ error: 'invalid_request', error_description: 'Missing client_secret' });
      expect((await token({})).json()).toEqual({ error: 'invalid_request', error_description: 'Missing client_id' });
    });

    test('HTTP Basic works directly on FHIR routes; a wrong secret is 401', async () => {
      const good = `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
      const res = await t.app.inject({ method: 'GET', url: patientUrl, headers: { authorization: good } });
      expect(res.statusCode).toBe(200);
      const bad = `Basic ${Buffer.from(`${id}:nope`).toString('base64')}`;
      expect((await t.app.inject({ method: 'GET', url: patientUrl, headers: { authorization: bad } })).statusCode).toBe(401);
      const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: good } });
      expect(me.json().membership.profile).toEqual({ reference: `ClientApplication/${id}`, display: 'Signer' });
    });

    test('a deleted client cannot sign in', async () => {
      const { id: goneId, secret: goneSecret } = (await createClient(admin.headers, projectId, { name: 'Temporary' })).json();
      const del = await t.app.inject({ method: 'DELETE', url: `/fhir/R4/ClientApplication/${goneId}`, headers: admin.headers });
      expect(del.statusCode).toBeLessThan(300);
      const res = await t.app.inject({ method: 'POST', url: '/oauth2/token', ...form({ grant_type: 'client_credentials', client_id: goneId, client_secret: goneSecret }) });
      expect(res.json()).toEqual({ error: 'invalid_request', error_description: 'Invalid client' });
    });
  });
});
