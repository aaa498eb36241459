import type { AccessPolicy, Practitioner, ProjectMembership } from '@medplum/fhirtypes';
import { createResource, readStored, updateResource, type RepoContext } from '../../src/fhir/repository';
import { signIn, type SignedIn } from '../helpers/auth';
import { useTestApp } from '../helpers/suite';
import { addMembership, createProject, createUser } from '../helpers/auth';

/**
 * GET /auth/me shows the membership's profile only when it is a profile type (Patient,
 * Practitioner, RelatedPerson, ClientApplication) of the caller's own project; otherwise it
 * answers without `profile` (the session keeps working). A project administrator, who may edit
 * memberships, cannot read another project's resource through it.
 */
describe('GET /auth/me never shows a resource of another project', () => {
  const t = useTestApp();
  let repo: RepoContext;
  let session: SignedIn;
  let membershipId: string;
  let ownProfile: string;
  let foreign: Practitioner;
  let foreignPolicy: AccessPolicy;

  beforeAll(async () => {
    repo = { database: t.app.ctx.database, clock: t.app.ctx.clock };
    const home = await createProject(t.app, 'Home');
    const other = await createProject(t.app, 'Other');
    foreign = await createResource<Practitioner>(repo, { resourceType: 'Practitioner', name: [{ family: 'Confidential-Zebulon' }] }, { project: other.id });
    foreignPolicy = await createResource<AccessPolicy>(repo, { resourceType: 'AccessPolicy', name: 'Other-project-policy-Quokka', resource: [{ resourceType: 'Patient' }] }, { project: other.id });
    const user = await createUser(t.app, 'me-admin@example.com', 'me-admin-password-1', home.id);
    const { membership, profile } = await addMembership(t.app, home.id, `User/${user.id}`, 'Practitioner', { admin: true });
    membershipId = membership.id;
    ownProfile = profile.reference as string;
    session = await signIn(t.app, 'me-admin@example.com', 'me-admin-password-1', home.id);
  });

  async function pointMembership(edit: Partial<ProjectMembership>): Promise<void> {
    const stored = await readStored<ProjectMembership>(repo, 'ProjectMembership', membershipId);
    await updateResource<ProjectMembership>(repo, { ...(stored?.resource as ProjectMembership), ...edit });
  }
  const me = () => t.app.inject({ method: 'GET', url: '/auth/me', headers: session.headers });

  test('the own profile is shown', async () => {
    const res = await me();
    expect(res.statusCode).toBe(200);
    expect(res.json().profile).toMatchObject({ resourceType: 'Practitioner', id: ownProfile.split('/')[1] });
  });

  test('a profile in another project is not shown', async () => {
    await pointMembership({ profile: { reference: `Practitioner/${foreign.id}` } });
    const res = await me();
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.profile).toBeUndefined();
    expect(res.body).not.toContain('Confidential-Zebulon');
    expect(body.membership.profile).toEqual({ reference: `Practitioner/${foreign.id}` });
  });

  test('a profile that is no profile type is not shown', async () => {
    // Another project's AccessPolicy as the "profile".
    await pointMembership({ profile: { reference: `AccessPolicy/${foreignPolicy.id}` } as ProjectMembership['profile'] });
    const res = await me();
    expect(res.statusCode).toBe(200);
    expect(res.json().profile).toBeUndefined();
    expect(res.body).not.toContain('Other-project-policy-Quokka');
  });

  test('an access policy of another project is not shown either', async () => {
    await pointMembership({ profile: { reference: ownProfile } as ProjectMembership['profile'], accessPolicy: { reference: `AccessPolicy/${foreignPolicy.id}` } });
    const res = await me();
    // The access layer refuses a foreign policy (fail closed) or /auth/me answers without it.
    if (res.statusCode === 200) {
      expect(res.json().accessPolicy).toBeUndefined();
    } else {
      expect(res.statusCode).toBe(403);
    }
    expect(res.body).not.toContain('Other-project-policy-Quokka');
  });
});
