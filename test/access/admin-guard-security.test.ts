import type { Project, ProjectMembership } from '@medplum/fhirtypes';
import type { LightMyRequestResponse } from 'fastify';
import type { AccessScope } from '../../src/access/access-scope';
import { resolveAccessScope } from '../../src/access/resolve';
import type { AuthContext } from '../../src/accounts/auth-context';
import { KeyedLock } from '../../src/db/keyed-lock';
import type { RestDeps } from '../../src/fhir-api/rest/rest-deps';
import { deleteForCaller, updateForCaller } from '../../src/fhir-api/rest/write';
import { snapshotDatabase } from '../helpers/app';
import { signIn, type SignedIn } from '../helpers/auth';
import { createAccount, createMembership, createPractitioner, createProject } from '../helpers/fixtures';
import { useTestApp } from '../helpers/suite';
import { createProjectAdmin, FHIR_JSON, type ProjectAdmin } from '../helpers/fhir';
import { postInvite } from '../helpers/invite';

/**
 * Nobody can lock a project out: removing, deactivating or demoting the administrator membership
 * of the project owner (Project.owner) or of the last active administrator is refused with 409,
 * through DELETE, PUT and an invite's upsert, and two administrators demoting each other at once
 * cannot both succeed. Project.owner itself is read-only for project administrators.
 */
describe('the project owner and the last administrator stay', () => {
  const t = useTestApp();
  let root: SignedIn;
  let counter = 0;

  beforeAll(async () => {
    root = await signIn(t.app);
  });

  const call = (session: SignedIn, method: 'GET' | 'PUT' | 'DELETE', url: string, payload?: object) =>
    t.app.inject({ method, url: `/fhir/R4/${url}`, headers: { ...session.headers, ...(payload ? FHIR_JSON : {}) }, payload: payload ? JSON.stringify(payload) : undefined });
  const membershipOf = async (session: SignedIn, id: string): Promise<ProjectMembership> => (await call(session, 'GET', `ProjectMembership/${id}`)).json();
  const put = async (session: SignedIn, id: string, fields: Partial<ProjectMembership>) =>
    call(session, 'PUT', `ProjectMembership/${id}`, { ...(await membershipOf(root, id)), ...fields });
  const expect409 = (res: LightMyRequestResponse, expression: string, text: RegExp) => {
    expect(res.statusCode).toBe(409);
    expect(res.json().issue[0]).toMatchObject({ code: 'conflict', expression: [expression] });
    expect(res.json().issue[0].diagnostics).toMatch(text);
  };

  /** Another administrator of the project (a server-scoped user), signed in. */
  async function extraAdmin(projectId: string): Promise<{ session: SignedIn; membershipId: string }> {
    counter += 1;
    const email = `guard-admin-${counter}@example.com`;
    const user = await createAccount(t.app, { email, password: 'guard-admin-password-1' });
    const practitioner = await createPractitioner(t.app, projectId);
    const membership = await createMembership(t.app, { projectId, user: `User/${user.id}`, profile: `Practitioner/${practitioner.id}`, admin: true });
    return { session: await signIn(t.app, email, 'guard-admin-password-1', projectId), membershipId: membership.id };
  }

  /** A project without an owner and with exactly two administrators. */
  async function twoAdmins(): Promise<{ projectId: string; a: { session: SignedIn; membershipId: string }; b: { session: SignedIn; membershipId: string } }> {
    const project = await createProject(t.app, { name: `Pair ${(counter += 1)}` });
    return { projectId: project.id, a: await extraAdmin(project.id), b: await extraAdmin(project.id) };
  }

  describe('the owner', () => {
    let owner: ProjectAdmin;
    let other: { session: SignedIn; membershipId: string };

    beforeAll(async () => {
      owner = await createProjectAdmin(t.app, 'Owned', 'guard-owner@example.com');
      other = await extraAdmin(owner.projectId);
    });

    test('another administrator can neither delete, deactivate nor demote the owner’s membership: 409, nothing written', async () => {
      const before = await snapshotDatabase(t.app);
      expect409(await call(other.session, 'DELETE', `ProjectMembership/${owner.membershipId}`), 'ProjectMembership', /project owner/);
      expect409(await put(other.session, owner.membershipId, { active: false }), 'ProjectMembership.active', /project owner/);
      expect409(await put(other.session, owner.membershipId, { admin: false }), 'ProjectMembership.admin', /project owner/);
      expect(await snapshotDatabase(t.app)).toEqual(before);
    });

    test('nor the owner itself, nor the super administrator', async () => {
      const before = await snapshotDatabase(t.app);
      expect409(await call(owner.session, 'DELETE', `ProjectMembership/${owner.membershipId}`), 'ProjectMembership', /project owner/);
      expect409(await put(owner.session, owner.membershipId, { admin: false }), 'ProjectMembership.admin', /project owner/);
      expect409(await call(root, 'DELETE', `ProjectMembership/${owner.membershipId}`), 'ProjectMembership', /project owner/);
      expect(await snapshotDatabase(t.app)).toEqual(before);
    });

    test('nor an invite with upsert and admin: false', async () => {
      const before = await snapshotDatabase(t.app);
      const res = await postInvite(t.app, other.session.headers, owner.projectId, {
        resourceType: 'Practitioner',
        firstName: 'Owned',
        lastName: 'Admin',
        email: 'guard-owner@example.com',
        upsert: true,
        admin: false,
        sendEmail: false,
      });
      expect(res.statusCode).toBe(409);
      expect(res.json().issue[0].diagnostics).toMatch(/project owner/);
      expect(await snapshotDatabase(t.app)).toEqual(before);
    });

    test('Project.owner is read-only for a project administrator', async () => {
      const project = (await call(other.session, 'GET', `Project/${owner.projectId}`)).json() as Project;
      const before = await snapshotDatabase(t.app);
      const res = await call(other.session, 'PUT', `Project/${owner.projectId}`, { ...project, owner: { reference: 'User/someone-else' } });
      expect(res.statusCode).toBe(403);
      expect(res.json().issue[0].expression).toEqual(['Project.owner']);
      expect(await snapshotDatabase(t.app)).toEqual(before);
      expect((await call(other.session, 'PUT', `Project/${owner.projectId}`, { ...project, name: 'Owned, renamed' })).statusCode).toBe(200);
    });

    test('once the super administrator makes someone else the owner, the former owner may step down', async () => {
      const project = (await call(root, 'GET', `Project/${owner.projectId}`)).json() as Project;
      const otherUser = (await membershipOf(root, other.membershipId)).user;
      expect((await call(root, 'PUT', `Project/${owner.projectId}`, { ...project, owner: otherUser })).statusCode).toBe(200);
      expect((await put(owner.session, owner.membershipId, { admin: false })).statusCode).toBe(200);
      expect409(await put(other.session, other.membershipId, { admin: false }), 'ProjectMembership.admin', /project owner/);
    });
  });

  describe('the last active administrator', () => {
    test('cannot delete, deactivate or demote their own membership; with a second administrator they can', async () => {
      const { a, b } = await twoAdmins();
      expect((await call(root, 'DELETE', `ProjectMembership/${b.membershipId}`)).statusCode).toBe(200);
      const before = await snapshotDatabase(t.app);
      expect409(await call(a.session, 'DELETE', `ProjectMembership/${a.membershipId}`), 'ProjectMembership', /last active administrator/);
      expect409(await put(a.session, a.membershipId, { active: false }), 'ProjectMembership.active', /last active administrator/);
      expect409(await put(a.session, a.membershipId, { admin: false }), 'ProjectMembership.admin', /last active administrator/);
      expect(await snapshotDatabase(t.app)).toEqual(before);
      // An inactive administrator does not count as one.
      const { projectId, a: first, b: second } = await twoAdmins();
      expect((await put(root, second.membershipId, { active: false })).statusCode).toBe(200);
      expect409(await put(first.session, first.membershipId, { admin: false }), 'ProjectMembership.admin', new RegExp(`Project/${projectId}`));
      expect((await put(root, second.membershipId, { active: true })).statusCode).toBe(200);
      expect((await put(first.session, first.membershipId, { admin: false })).statusCode).toBe(200);
    });

    test('two administrators demoting each other at once: exactly one succeeds', async () => {
      for (const kind of ['demote', 'deactivate', 'delete'] as const) {
        const { a, b } = await twoAdmins();
        const remove = (by: SignedIn, id: string) =>
          kind === 'delete' ? call(by, 'DELETE', `ProjectMembership/${id}`) : put(by, id, kind === 'demote' ? { admin: false } : { active: false });
        const results = await Promise.all([remove(a.session, b.membershipId), remove(b.session, a.membershipId)]);
        // The loser is refused by the guard (409), or, when the winner committed before the loser's
        // request was authorized, as no longer an administrator (403) or member (401).
        const codes = results.map((r) => r.statusCode).sort();
        expect([kind, codes[0], [401, 403, 409].includes(codes[1])]).toEqual([kind, 200, true]);
        const left = await Promise.all([a.membershipId, b.membershipId].map((id) => call(root, 'GET', `ProjectMembership/${id}`)));
        const admins = left.filter((r) => r.statusCode === 200 && r.json().admin === true && r.json().active !== false);
        expect([kind, admins.length]).toEqual([kind, 1]);
      }
    });

    test('the same race past the access checks: the guard inside the transaction lets exactly one through', async () => {
      for (const kind of ['demote', 'delete'] as const) {
        const { projectId, a, b } = await twoAdmins();
        // Both callers' scopes are resolved (both still administrators) before either write starts.
        const [scopeA, scopeB] = await Promise.all([authOf(projectId, a.membershipId), authOf(projectId, b.membershipId)].map(async (p) => resolveAccessScope(t.app.ctx, await p)));
        const deps = restDeps();
        const remove = async (scope: AccessScope, id: string) => {
          if (kind === 'delete') {
            return deleteForCaller(deps, scope, 'ProjectMembership', id);
          }
          const current = (await membershipOf(root, id)) as ProjectMembership & Record<string, unknown>;
          return updateForCaller(deps, scope, 'ProjectMembership', id, { ...current, admin: false });
        };
        const settled = await Promise.allSettled([remove(scopeA, b.membershipId), remove(scopeB, a.membershipId)]);
        const refused = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => (r.reason as { statusCode?: number }).statusCode);
        expect([kind, settled.filter((r) => r.status === 'fulfilled').length, refused]).toEqual([kind, 1, [409]]);
      }
    });
  });

  /** The AuthContext a token for this membership carries. */
  async function authOf(projectId: string, membershipId: string): Promise<AuthContext> {
    const membership = await membershipOf(root, membershipId);
    return {
      userId: (membership.user?.reference as string).split('/')[1],
      userType: 'User',
      loginId: `race-${membershipId}`,
      projectId,
      membershipId,
      profile: membership.profile ?? {},
      projectAdmin: true,
      superAdmin: false,
    };
  }

  function restDeps(): RestDeps {
    const { ctx } = t.app;
    return { database: ctx.database, clock: ctx.clock, baseUrl: ctx.config.baseUrl, profiles: ctx.definitions.profiles, writeLock: new KeyedLock() };
  }
});
