import type { LightMyRequestResponse } from 'fastify';
import type { Project, ProjectMembership, User } from '@medplum/fhirtypes';
import { LOGINS, type LoginDoc } from '../../src/accounts/sessions';
import { membershipRequiresMfa } from '../../src/accounts/memberships';
import type { StoredResource } from '../../src/fhir/repository';
import { ADMIN_EMAIL, ADMIN_PASSWORD, TestClock } from '../helpers/app';
import { codeExchange, pkce, signIn } from '../helpers/auth';
import { createProject, uniqueEmail } from '../helpers/fixtures';
import { useSignIn, useTestApp } from '../helpers/suite';
import { outputs, postInvite } from '../helpers/invite';
import { createMember } from '../helpers/activation';
import { codeAt, secretOf } from '../helpers/mfa';

const STEP_MS = 30_000;

/**
 * `mfaRequired: true` in an invite of an account the inviting project does not control (an
 * existing server-scoped User) is recorded on that membership only, and enforced when the sign-in
 * chooses THAT membership: no authorization code (so no token) for it without MFA. The account's
 * other memberships, and the User itself, are not changed.
 */
describe('invite: mfaRequired for an account of the server applies to the new membership only', () => {
  const clock = new TestClock();
  const t = useTestApp({ clock });
  const root = useSignIn(t);
  let superProjectId: string;
  let superUser: User & { id: string };

  const post = (url: string, payload: Record<string, unknown>): Promise<LightMyRequestResponse> => t.app.inject({ method: 'POST', url, payload });
  const login = (projectId?: string): Promise<LightMyRequestResponse & { verifier: string }> => {
    const { verifier, challenge } = pkce();
    return post('/auth/login', { email: ADMIN_EMAIL, password: ADMIN_PASSWORD, projectId, codeChallenge: challenge, codeChallengeMethod: 'S256', scope: 'openid' }).then((res) =>
      Object.assign(res, { verifier }),
    );
  };
  const storedLogin = (id: string) => t.app.ctx.database.db.collection<LoginDoc>(LOGINS).findOne({ _id: id });
  const readSuperUser = async () => (await t.app.ctx.database.db.collection<StoredResource<User>>('User').findOne({ 'resource.email': ADMIN_EMAIL }))?.resource as User & { id: string };

  beforeAll(async () => {
    superProjectId = (await t.app.ctx.database.db.collection<StoredResource<Project>>('Project').findOne({ 'resource.superAdmin': true }))?._id as string;
    superUser = await readSuperUser();
  });

  test('another project invites the super administrator with mfaRequired: only that membership demands MFA', async () => {
    const project = await createProject(t.app, { name: 'Strict clinic' });
    const invite = await postInvite(t.app, root.headers, project.id, { resourceType: 'Practitioner', firstName: 'Super', lastName: 'Admin', email: ADMIN_EMAIL, mfaRequired: true, sendEmail: false });
    expect(invite.statusCode).toBe(201);
    const strict = outputs(invite).membership as ProjectMembership & { id: string };
    expect(membershipRequiresMfa(strict)).toBe(true);

    // The account itself is untouched.
    const after = await readSuperUser();
    expect(after.mfaRequired).toBeUndefined();
    expect(after.meta?.versionId).toBe(superUser.meta?.versionId);

    // Signing in to their own project needs no MFA.
    await expect(signIn(t.app, ADMIN_EMAIL, ADMIN_PASSWORD, superProjectId)).resolves.toHaveProperty('accessToken');
    // Without a project: both memberships to choose from; their own gives a code at once.
    const both = await login();
    expect(both.statusCode).toBe(200);
    const choices = both.json().memberships as { id: string }[];
    expect(choices.map((m) => m.id)).toContain(strict.id);
    const own = choices.find((m) => m.id !== strict.id) as { id: string };
    const ownCode = await post('/auth/profile', { login: both.json().login, profile: own.id });
    expect(ownCode.json()).toEqual({ login: both.json().login, code: expect.any(String) });
    expect((await t.app.inject(codeExchange(ownCode.json().code, both.verifier))).statusCode).toBe(200);

    // Choosing the strict membership gives the MFA enrolment step, not a code.
    const again = await login();
    const step = await post('/auth/profile', { login: again.json().login, profile: strict.id });
    expect(step.statusCode).toBe(200);
    expect(step.json()).toMatchObject({ login: again.json().login, mfaEnrollRequired: true, enrollUri: expect.any(String) });
    expect(step.json()).not.toHaveProperty('code');
    expect((await storedLogin(again.json().login))?.codeHash).toBeUndefined();
    // Nor can that sign-in switch to another membership to get a code past the step.
    expect((await post('/auth/profile', { login: again.json().login, profile: own.id })).statusCode).toBe(400);

    // Enrolling finishes the sign-in with a code for the strict membership.
    const secret = secretOf(step.json().enrollUri as string);
    const enrolled = await post('/auth/mfa/login-enroll', { login: again.json().login, token: codeAt(secret, clock) });
    expect(enrolled.statusCode).toBe(200);
    expect(enrolled.json()).toEqual({ login: again.json().login, code: expect.any(String) });
    const tokens = await t.app.inject(codeExchange(enrolled.json().code, again.verifier));
    expect(tokens.statusCode).toBe(200);
    expect(tokens.json()).toMatchObject({ project: { reference: `Project/${project.id}` }, profile: { reference: strict.profile.reference } });
    clock.advance(STEP_MS);
  });

  test('signing in straight to the strict project demands MFA before any code', async () => {
    const project = await createProject(t.app, { name: 'Stricter clinic' });
    // A verified account: the invite keeps its password (see account-verification-security.test.ts).
    const member = await createMember(t.app, { emailVerified: true });
    const invite = await postInvite(t.app, root.headers, project.id, { resourceType: 'Practitioner', firstName: 'Ada', lastName: 'Lovelace', email: member.email, mfaRequired: true, sendEmail: false });
    expect(invite.statusCode).toBe(201);
    const own = await signIn(t.app, member.email, member.password, member.project.id as string);
    expect(own).toHaveProperty('accessToken');

    const { verifier, challenge } = pkce();
    const res = await post('/auth/login', { email: member.email, password: member.password, projectId: project.id, codeChallenge: challenge, codeChallengeMethod: 'S256' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ mfaEnrollRequired: true });
    expect(res.json()).not.toHaveProperty('code');
    const secret = secretOf(res.json().enrollUri as string);
    const enrolled = await post('/auth/mfa/login-enroll', { login: res.json().login, token: codeAt(secret, clock) });
    expect(enrolled.statusCode).toBe(200);
    expect((await t.app.inject(codeExchange(enrolled.json().code, verifier))).statusCode).toBe(200);
    clock.advance(STEP_MS);

    // Once enrolled, a sign-in to the strict project asks for the code (and gets its token with it).
    const next = pkce();
    const second = await post('/auth/login', { email: member.email, password: member.password, projectId: project.id, codeChallenge: next.challenge, codeChallengeMethod: 'S256' });
    expect(second.json()).toEqual({ login: expect.any(String), mfaRequired: true });
    const verified = await post('/auth/mfa/verify', { login: second.json().login, token: codeAt(secret, clock) });
    expect(verified.json()).toEqual({ login: second.json().login, code: expect.any(String) });
    expect((await t.app.inject(codeExchange(verified.json().code, next.verifier))).statusCode).toBe(200);
    clock.advance(STEP_MS);
  });

  test('a project-scoped user of the inviting project gets mfaRequired on the account', async () => {
    const project = await createProject(t.app);
    const email = uniqueEmail('patient');
    const first = await postInvite(t.app, root.headers, project.id, { resourceType: 'Patient', firstName: 'Pat', lastName: 'Ient', email, sendEmail: false });
    const again = await postInvite(t.app, root.headers, project.id, { resourceType: 'Patient', firstName: 'Pat', lastName: 'Ient', email, sendEmail: false, upsert: true, mfaRequired: true });
    expect(again.statusCode).toBe(200);
    const user = (await t.app.ctx.database.db.collection<StoredResource<User>>('User').findOne({ _id: outputs(first).user.reference.slice(5) }))?.resource;
    expect(user?.mfaRequired).toBe(true);
  });
});
