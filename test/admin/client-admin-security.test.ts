import type { Project, ProjectMembership } from '@medplum/fhirtypes';
import { deleteResource, readStored, updateResource, type RepoContext } from '../../src/fhir/repository';
import { snapshotDatabase } from '../helpers/app';
import { signIn, type SignedIn } from '../helpers/auth';
import { useTestApp } from '../helpers/suite';
import { addMembership, createProject, createUser } from '../helpers/auth';

/**
 * POST /admin/projects/{id}/client decides on the caller's membership as stored NOW, not on the
 * `project_admin` / `super_admin` claims of a token issued before a demotion.
 */
describe('creating a system client re-reads the caller’s membership', () => {
  const t = useTestApp();
  let repo: RepoContext;
  let counter = 0;

  beforeAll(async () => {
    repo = { database: t.app.ctx.database, clock: t.app.ctx.clock };
  });

  const createClient = (headers: Record<string, string>, projectId: string) =>
    t.app.inject({ method: 'POST', url: `/admin/projects/${projectId}/client`, headers, payload: { name: 'Peer' } });

  /** A fresh administrator of `projectId`, signed in; answers the session and the membership. */
  async function signedInAdmin(projectId: string): Promise<{ session: SignedIn; membership: ProjectMembership & { id: string } }> {
    counter += 1;
    const email = `boss-${counter}@example.com`;
    const user = await createUser(t.app, email, 'boss-password-long-1', projectId);
    const { membership } = await addMembership(t.app, projectId, `User/${user.id}`, 'Practitioner', { admin: true });
    return { session: await signIn(t.app, email, 'boss-password-long-1', projectId), membership };
  }

  async function change(membershipId: string, edit: (m: ProjectMembership) => ProjectMembership): Promise<void> {
    const stored = await readStored<ProjectMembership>(repo, 'ProjectMembership', membershipId);
    await updateResource<ProjectMembership>(repo, edit(stored?.resource as ProjectMembership));
  }

  test('an administrator may, until demoted: then 403 and nothing is written', async () => {
    const project = await createProject(t.app, 'Demotion');
    const { session, membership } = await signedInAdmin(project.id);
    expect((await createClient(session.headers, project.id)).statusCode).toBe(201);

    await change(membership.id, (m) => ({ ...m, admin: false }));
    const before = await snapshotDatabase(t.app);
    const res = await createClient(session.headers, project.id);
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'forbidden' }] });
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  // The session itself no longer holds (its membership is inactive or gone): 401 before any admin check.
  test('a deactivated or deleted administrator membership is refused too', async () => {
    const project = await createProject(t.app, 'Removal');
    const inactive = await signedInAdmin(project.id);
    await change(inactive.membership.id, (m) => ({ ...m, active: false }));
    const deleted = await signedInAdmin(project.id);
    await deleteResource(repo, 'ProjectMembership', deleted.membership.id);

    const before = await snapshotDatabase(t.app);
    expect((await createClient(inactive.session.headers, project.id)).statusCode).toBe(401);
    expect((await createClient(deleted.session.headers, project.id)).statusCode).toBe(401);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('a demoted super administrator may no longer create clients in other projects', async () => {
    const superProject = await t.app.ctx.database.db.collection<{ _id: string; resource: Project }>('Project').findOne({ 'resource.superAdmin': true });
    const target = await createProject(t.app, 'Target');
    const { session, membership } = await signedInAdmin(superProject?._id as string);
    expect((await createClient(session.headers, target.id)).statusCode).toBe(201);

    await change(membership.id, (m) => ({ ...m, admin: false }));
    const before = await snapshotDatabase(t.app);
    expect((await createClient(session.headers, target.id)).statusCode).toBe(403);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('the bootstrap super administrator still creates clients in any project', async () => {
    const admin = await signIn(t.app);
    const project = await createProject(t.app, 'Any');
    expect((await createClient(admin.headers, project.id)).statusCode).toBe(201);
  });
});
