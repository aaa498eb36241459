import type { User } from '@medplum/fhirtypes';
import type { StoredResource } from '../../src/fhir/repository';
import { checkWrite, requireInteraction } from '../../src/access/enforce';
import { resolveAccessScope } from '../../src/access/resolve';
import { canSeeUser, userVisibilityFilter } from '../../src/access/user-visibility';
import { useTestApp } from '../helpers/suite';
import { make, makeMember, makeProject, rootAuth } from '../helpers/access';

describe('which users a project administrator sees', () => {
  const t = useTestApp();
  let p1: string;
  let p2: string;
  const users: Record<string, User & { id: string }> = {};

  const user = async (key: string, project?: string): Promise<void> => {
    const resource: User = { resourceType: 'User', firstName: key, lastName: 'Test', email: `${key.toLowerCase()}@example.com` };
    if (project) {
      resource.project = { reference: `Project/${project}` };
    }
    users[key] = await make(t.app, resource, project);
  };

  beforeAll(async () => {
    p1 = await makeProject(t.app, 'One');
    p2 = await makeProject(t.app, 'Two');
    await user('scopedHere', p1);
    await user('scopedThere', p2);
    await user('serverMember');
    await user('serverStranger');
    await user('serverElsewhere');
    await makeMember(t.app, p1, { profile: 'Practitioner/a', user: `User/${users.serverMember.id}` });
    await makeMember(t.app, p2, { profile: 'Practitioner/b', user: `User/${users.serverElsewhere.id}` });
  });

  const visibleWith = async (filter: object | undefined): Promise<string[]> => {
    const docs = await t.app.ctx.database.db
      .collection<StoredResource>('User')
      .find({ ...(filter ?? {}), deleted: false })
      .toArray();
    const names = docs.map((d) => (d.resource as User).firstName as string);
    return names.filter((n) => n in users).sort();
  };

  // Server-scoped users belong to the server: a project administrator sees its members who are
  // server-scoped only through their membership and profile, never as User resources.
  test('the filter finds the users scoped to the project, no one else (not even server-scoped members)', async () => {
    const { auth } = await makeMember(t.app, p1, { profile: 'Practitioner/admin', admin: true });
    const scope = await resolveAccessScope(t.app.ctx, auth);
    expect(await visibleWith(userVisibilityFilter(scope))).toEqual(['scopedHere']);
    for (const [key, resource] of Object.entries(users)) {
      expect([key, canSeeUser(scope, resource)]).toEqual([key, key === 'scopedHere']);
    }
  });

  test('the super administrator sees every user', async () => {
    const scope = await resolveAccessScope(t.app.ctx, await rootAuth(t.app));
    expect(userVisibilityFilter(scope)).toBeUndefined();
    expect(await visibleWith(undefined)).toEqual(Object.keys(users).sort());
    expect(canSeeUser(scope, users.serverStranger)).toBe(true);
  });

  test('a member who is not an administrator sees no users', async () => {
    const { auth } = await makeMember(t.app, p1, { profile: 'Practitioner/plain' });
    const scope = await resolveAccessScope(t.app.ctx, auth);
    expect(scope.forType('User')).toBeUndefined();
    expect(canSeeUser(scope, users.scopedHere)).toBe(false);
  });

  test('an administrator may update project-scoped users only, and never their email', async () => {
    const { auth } = await makeMember(t.app, p1, { profile: 'Practitioner/admin2', admin: true });
    const scope = await resolveAccessScope(t.app.ctx, auth);
    const access = requireInteraction(scope, 'User', 'update');
    const here = users.scopedHere;
    expect(() => checkWrite(scope, access, { ...here, firstName: 'Renamed' }, here)).not.toThrow();
    expect(() => checkWrite(scope, access, { ...here, email: 'new@example.com' }, here)).toThrow(/User.email is read-only/);
    const member = users.serverMember;
    expect(() => checkWrite(scope, access, { ...member, firstName: 'Renamed' }, member)).toThrow(/outside your project/);
    expect(() => requireInteraction(scope, 'User', 'create')).toThrow(/You may not create User resources/);
  });
});
