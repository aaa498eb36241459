import { snapshotDatabase } from '../helpers/app';
import { signIn } from '../helpers/auth';
import { useSignIn, useTestApp } from '../helpers/suite';
import { createMember, createProject, uniqueEmail } from '../helpers/invite';
import { firstIssue, postInvite, type InviteForm } from '../helpers/invite';

const person = { resourceType: 'Practitioner', firstName: 'Pat', lastName: 'Word', sendEmail: false };
const GOOD = 'a sound project password';

/**
 * The invite's `password`: only for a project-scoped User (a server-scoped account's password is
 * set by the owner of its email through a mailed link), and under the same policy as set-password.
 */
describe('invite: the password an administrator may choose', () => {
  const t = useTestApp();
  const admin = useSignIn(t);
  let projectId: string;

  beforeAll(async () => {
    projectId = (await createProject(t.app)).id;
  });

  async function refused(body: Record<string, unknown>, form: InviteForm = 'json'): Promise<{ text?: string; expression?: string[] }> {
    const before = await snapshotDatabase(t.app);
    const res = await postInvite(t.app, admin.headers, projectId, body, { form });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/fhir\+json/);
    expect(await snapshotDatabase(t.app)).toEqual(before);
    return firstIssue(res);
  }

  describe.each(['json', 'parameters', 'admin'] as InviteForm[])('in the %s form', (form) => {
    test.each([
      ['a Practitioner (server-scoped by default)', { ...person }],
      ['an explicit server scope', { ...person, resourceType: 'Patient', scope: 'server' }],
    ])('a password for %s → 400 naming password, nothing written', async (_label, body) => {
      const issue = await refused({ ...body, email: uniqueEmail(), password: GOOD }, form);
      expect(issue.expression).toEqual(['password']);
      expect(issue.text).toMatch(/project-scoped/);
    });

    test.each([
      ['a common password', 'password', /too common/],
      ['a common password with digits and a symbol appended', 'password123!', /too common/],
      ['one character repeated', 'aaaaaaaaaaaa', /repeated/],
    ])('%s for a project-scoped user → 400 naming password, nothing written', async (_label, password, message) => {
      const issue = await refused({ ...person, scope: 'project', email: uniqueEmail(), password }, form);
      expect(issue.expression).toEqual(['password']);
      expect(issue.text).toMatch(message);
    });
  });

  test('a password for an existing server-scoped account is refused too (its credentials stay as they are)', async () => {
    const other = await createProject(t.app);
    const member = await createMember(t.app, other.id);
    const issue = await refused({ ...person, email: member.email, password: GOOD });
    expect(issue.expression).toEqual(['password']);
    await expect(signIn(t.app, member.email, member.password, other.id)).resolves.toHaveProperty('accessToken');
  });

  test('a sound password for a new project-scoped user is accepted and signs in to that project', async () => {
    const email = uniqueEmail();
    const res = await postInvite(t.app, admin.headers, projectId, { ...person, scope: 'project', email, password: GOOD });
    expect(res.statusCode).toBe(201);
    await expect(signIn(t.app, email, GOOD, projectId)).resolves.toHaveProperty('accessToken');
  });
});
