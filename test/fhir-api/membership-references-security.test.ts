import type { AccessPolicy, ClientApplication, Patient, ProjectMembership, User } from '@medplum/fhirtypes';
import type { LightMyRequestResponse } from 'fastify';
import { readStored } from '../../src/fhir/repository';
import { snapshotDatabase } from '../helpers/app';
import type { SignedIn } from '../helpers/auth';
import { create, createAccount, createPractitioner, createProject, repoOf, uniqueEmail } from '../helpers/fixtures';
import { useSignIn, useTestApp } from '../helpers/suite';
import { createProjectAdmin, FHIR_JSON, issues, type ProjectAdmin } from '../helpers/fhir';

/**
 * A ProjectMembership written through the FHIR API only points at resources of its own project
 * (profile, accessPolicy, access[].policy, user), whoever writes it: a refused write is a 400
 * naming the field, and writes nothing.
 */
describe('ProjectMembership references stay in the membership project', () => {
  const t = useTestApp();
  const root = useSignIn(t);
  let admin: ProjectAdmin;
  let ownPolicy: AccessPolicy & { id: string };
  let member: ProjectMembership & { id: string };
  const theirs: Record<'patient' | 'practitioner' | 'policy' | 'user' | 'client', string> = { patient: '', practitioner: '', policy: '', user: '', client: '' };

  beforeAll(async () => {
    admin = await createProjectAdmin(t.app, 'Mine', uniqueEmail('refs-admin'));
    ownPolicy = await create<AccessPolicy>(t.app, { resourceType: 'AccessPolicy', name: 'Own', resource: [{ resourceType: 'Patient' }] }, admin.projectId);
    // A plain member of the admin's project, whose membership the admin edits.
    const person = await createAccount(t.app, { email: uniqueEmail('refs-member'), password: 'refs-member-password-1' });
    const profile = await createPractitioner(t.app, admin.projectId);
    member = await create<ProjectMembership>(
      t.app,
      { resourceType: 'ProjectMembership', project: { reference: `Project/${admin.projectId}` }, user: { reference: `User/${person.id}` }, profile: { reference: `Practitioner/${profile.id}` } },
      admin.projectId,
    );
    // Another project's resources.
    const other = (await createProject(t.app, { name: 'Theirs' })).id;
    theirs.patient = (await create<Patient>(t.app, { resourceType: 'Patient', name: [{ family: 'Theirs' }] }, other)).id;
    theirs.practitioner = (await createPractitioner(t.app, other)).id;
    theirs.policy = (await create<AccessPolicy>(t.app, { resourceType: 'AccessPolicy', name: 'Theirs', resource: [{ resourceType: 'Patient' }] }, other)).id;
    theirs.user = (await createAccount(t.app, { email: uniqueEmail('refs-scoped'), password: 'refs-scoped-password-1', projectId: other })).id;
    theirs.client = (await create<ClientApplication>(t.app, { resourceType: 'ClientApplication', name: 'Theirs' }, other)).id;
  });

  const write = (session: SignedIn, method: 'POST' | 'PUT', body: ProjectMembership): Promise<LightMyRequestResponse> =>
    t.app.inject({
      method,
      url: method === 'POST' ? '/fhir/R4/ProjectMembership' : `/fhir/R4/ProjectMembership/${body.id}`,
      headers: { ...session.headers, ...FHIR_JSON },
      payload: JSON.stringify(body),
    });

  /** The write is a 400 naming `expression`, and the database is exactly as before. */
  async function expectRefused(session: SignedIn, method: 'POST' | 'PUT', body: ProjectMembership, expression: string): Promise<void> {
    const before = await snapshotDatabase(t.app);
    const res = await write(session, method, body);
    expect({ status: res.statusCode, expression: issues(res)[0]?.expression }).toEqual({ status: 400, expression: [expression] });
    expect(issues(res)[0]?.diagnostics).toMatch(/of this project|owns this membership/);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  }

  const current = async (): Promise<ProjectMembership> => (await readStored<ProjectMembership>(repoOf(t.app), 'ProjectMembership', member.id))?.resource as ProjectMembership;

  describe('a project administrator updating a membership of the project', () => {
    test.each([
      ['a Patient of another project', 'patient', 'Patient'],
      ['a Practitioner of another project', 'practitioner', 'Practitioner'],
      ['a ClientApplication of another project', 'client', 'ClientApplication'],
    ] as const)('cannot point profile at %s', async (_label, key, type) => {
      await expectRefused(admin.session, 'PUT', { ...(await current()), profile: { reference: `${type}/${theirs[key]}` } as ProjectMembership['profile'] }, 'ProjectMembership.profile');
    });

    test('cannot point profile at a resource of a type that is no profile, even of the project', async () => {
      await expectRefused(admin.session, 'PUT', { ...(await current()), profile: { reference: `AccessPolicy/${ownPolicy.id}` } as ProjectMembership['profile'] }, 'ProjectMembership.profile');
    });

    test("cannot point accessPolicy at another project's AccessPolicy", async () => {
      await expectRefused(admin.session, 'PUT', { ...(await current()), accessPolicy: { reference: `AccessPolicy/${theirs.policy}` } }, 'ProjectMembership.accessPolicy');
    });

    test("cannot point an access[].policy at another project's AccessPolicy (the field is named with its index)", async () => {
      const access = [{ policy: { reference: `AccessPolicy/${ownPolicy.id}` } }, { policy: { reference: `AccessPolicy/${theirs.policy}` } }];
      await expectRefused(admin.session, 'PUT', { ...(await current()), access }, 'ProjectMembership.access[1].policy');
    });

    test('cannot point accessPolicy at an AccessPolicy that does not exist', async () => {
      await expectRefused(admin.session, 'PUT', { ...(await current()), accessPolicy: { reference: 'AccessPolicy/no-such-policy' } }, 'ProjectMembership.accessPolicy');
    });

    test("may point them at the project's own resources", async () => {
      const patient = await create<Patient>(t.app, { resourceType: 'Patient', name: [{ family: 'Mine' }] }, admin.projectId);
      const body = { ...(await current()), profile: { reference: `Patient/${patient.id}` }, accessPolicy: { reference: `AccessPolicy/${ownPolicy.id}` }, access: [{ policy: { reference: `AccessPolicy/${ownPolicy.id}` } }] };
      const res = await write(admin.session, 'PUT', body as ProjectMembership);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ profile: { reference: `Patient/${patient.id}` }, accessPolicy: { reference: `AccessPolicy/${ownPolicy.id}` } });
    });
  });

  test('an update checks only the references it changes: a membership whose profile was since deleted can still be deactivated', async () => {
    const gone = await create<Patient>(t.app, { resourceType: 'Patient', name: [{ family: 'Gone' }] }, admin.projectId);
    const person = await create<User>(t.app, { resourceType: 'User', firstName: 'Left', lastName: 'Behind' });
    const stale = await create<ProjectMembership>(
      t.app,
      { resourceType: 'ProjectMembership', project: { reference: `Project/${admin.projectId}` }, user: { reference: `User/${person.id}` }, profile: { reference: `Patient/${gone.id}` } },
      admin.projectId,
    );
    expect((await t.app.inject({ method: 'DELETE', url: `/fhir/R4/Patient/${gone.id}`, headers: admin.session.headers })).statusCode).toBe(200);
    const res = await write(admin.session, 'PUT', { ...stale, active: false });
    expect(res.statusCode).toBe(200);
    expect(res.json().active).toBe(false);
  });

  describe('the super administrator (the same consistency rules)', () => {
    const membershipOf = async (fields: Partial<ProjectMembership>): Promise<ProjectMembership> => {
      const person = await create<User>(t.app, { resourceType: 'User', firstName: 'Server', lastName: 'Scoped' });
      return {
        resourceType: 'ProjectMembership',
        project: { reference: `Project/${admin.projectId}` },
        user: { reference: `User/${person.id}` },
        profile: { reference: `Practitioner/${admin.practitionerId}` },
        ...fields,
      };
    };

    test('cannot create a membership whose user is scoped to another project', async () => {
      await expectRefused(root, 'POST', await membershipOf({ user: { reference: `User/${theirs.user}` } }), 'ProjectMembership.user');
    });

    test("cannot create a membership whose user is another project's ClientApplication", async () => {
      await expectRefused(root, 'POST', await membershipOf({ user: { reference: `ClientApplication/${theirs.client}` } }), 'ProjectMembership.user');
    });

    test('cannot create a membership whose user does not exist', async () => {
      await expectRefused(root, 'POST', await membershipOf({ user: { reference: 'User/no-such-user' } }), 'ProjectMembership.user');
    });

    test("cannot create a membership whose profile is another project's", async () => {
      await expectRefused(root, 'POST', await membershipOf({ profile: { reference: `Practitioner/${theirs.practitioner}` } }), 'ProjectMembership.profile');
    });

    test("cannot create a membership whose access policy is another project's", async () => {
      await expectRefused(root, 'POST', await membershipOf({ accessPolicy: { reference: `AccessPolicy/${theirs.policy}` } }), 'ProjectMembership.accessPolicy');
    });

    test('cannot create a membership whose project is not the one that owns it (meta.project)', async () => {
      const body = await membershipOf({});
      await expectRefused(root, 'POST', { ...body, meta: { project: admin.projectId }, project: { reference: 'Project/not-this-one' } }, 'ProjectMembership.project');
    });

    test('may create one with a server-scoped user and references of the project', async () => {
      const res = await write(root, 'POST', await membershipOf({ accessPolicy: { reference: `AccessPolicy/${ownPolicy.id}` } }));
      expect(res.statusCode).toBe(201);
      expect(res.json().meta.project).toBe(admin.projectId);
    });
  });
});
