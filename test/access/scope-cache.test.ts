import type { AccessPolicy, Patient, ProjectMembership } from '@medplum/fhirtypes';
import { updateResource } from '../../src/fhir/repository';
import { createTestApp, TestClock, type TestApp } from '../helpers/app';
import { signIn, type SignedIn } from '../helpers/auth';
import { make, makeProject, repoOf } from '../helpers/access';
import { Recorder, signedInMember, type Member } from '../helpers/access';

/**
 * The per-app caches on the read path (verified tokens, resolved access scopes) change no
 * decision: a change made through this instance applies at once, one made behind its back
 * within the cache lifetime, and an expired token is refused even after it verified.
 */
describe('cached access scopes and verified tokens', () => {
  const clock = new TestClock();
  let t: TestApp;
  let rec: Recorder;
  let project: string;
  let doctor: string;
  let patient: Patient & { id: string };
  let root: { session: SignedIn };

  const member = (key: string): Promise<Member> => signedInMember(t.app, project, { key, profile: `Practitioner/${doctor}`, policy: [{ resourceType: 'Patient', readonly: true }] });
  const readPatient = async (who: Member | { session: SignedIn }): Promise<number> => (await rec.call(who, 'GET', `Patient/${patient.id}`)).status;
  const policyOf = async (who: Member): Promise<AccessPolicy & { id: string }> => {
    const membership = (await rec.call(root, 'GET', `ProjectMembership/${who.membershipId}`)).json as ProjectMembership;
    return (await rec.call(root, 'GET', membership.accessPolicy?.reference as string)).json;
  };
  const denyPatients = (policy: AccessPolicy): AccessPolicy => ({ ...policy, resource: [{ resourceType: 'Practitioner', readonly: true }] });

  beforeAll(async () => {
    t = await createTestApp({ clock });
    rec = new Recorder(t.app);
    project = await makeProject(t.app, 'Cached');
    doctor = (await make(t.app, { resourceType: 'Practitioner', name: [{ family: 'Who' }] }, project)).id;
    patient = await make<Patient>(t.app, { resourceType: 'Patient', name: [{ family: 'Pond' }] }, project);
    root = { session: await signIn(t.app) };
  });
  afterAll(async () => {
    await t.close();
  });

  test('a policy changed through the FHIR API applies to the next request', async () => {
    const reader = await member('cache-policy');
    expect(await readPatient(reader)).toBe(200);
    const policy = await policyOf(reader);
    expect((await rec.call(root, 'PUT', `AccessPolicy/${policy.id}`, denyPatients(policy))).status).toBe(200);
    expect(await readPatient(reader)).toBe(403);
  });

  test('a membership deleted through the FHIR API ends its access at once (401)', async () => {
    const reader = await member('cache-delete');
    expect(await readPatient(reader)).toBe(200);
    expect((await rec.call(root, 'DELETE', `ProjectMembership/${reader.membershipId}`)).status).toBe(200);
    expect(await readPatient(reader)).toBe(401);
  });

  test('a membership changed by an upsert invite applies to the next request', async () => {
    const reading = await make<AccessPolicy>(t.app, { resourceType: 'AccessPolicy', name: 'patients', resource: [{ resourceType: 'Patient', readonly: true }] }, project);
    const other = await make<AccessPolicy>(t.app, { resourceType: 'AccessPolicy', name: 'practitioners only', resource: [{ resourceType: 'Practitioner' }] }, project);
    const email = 'cache-invite@example.com';
    const password = 'cache-invite-Correct-Horse-9';
    const invite = (policy: string, upsert: boolean) =>
      rec.call(root, 'POST', `Project/${project}/$invite`, {
        resourceType: 'Parameters',
        parameter: [
          { name: 'resourceType', valueCode: 'Practitioner' },
          // An administrator may choose the password only of a project-scoped user.
          { name: 'scope', valueCode: 'project' },
          { name: 'firstName', valueString: 'Cache' },
          { name: 'lastName', valueString: 'Invite' },
          { name: 'email', valueString: email },
          { name: 'password', valueString: password },
          { name: 'upsert', valueBoolean: upsert },
          { name: 'sendEmail', valueBoolean: false },
          { name: 'accessPolicy', valueReference: { reference: `AccessPolicy/${policy}` } },
        ],
      });
    expect((await invite(reading.id, false)).status).toBe(201);
    const invited = { session: await signIn(t.app, email, password, project) };
    expect(await readPatient(invited)).toBe(200);
    expect((await invite(other.id, true)).status).toBe(200);
    expect(await readPatient(invited)).toBe(403);
  });

  test('a change written behind the server (straight into the database) applies within seconds', async () => {
    const reader = await member('cache-behind');
    expect(await readPatient(reader)).toBe(200);
    const policy = await policyOf(reader);
    await updateResource(repoOf(t.app), denyPatients(policy));
    clock.advance(5_001);
    expect(await readPatient(reader)).toBe(403);
  });

  test('an access token that verified before is refused once it has expired', async () => {
    const reader = await member('cache-expiry');
    // Verified (and remembered) one minute before it expires, then used just after.
    clock.advance((t.config.accessTokenTtlSeconds - 60) * 1000);
    expect(await readPatient(reader)).toBe(200);
    clock.advance(61_000);
    const res = await rec.call(reader, 'GET', `Patient/${patient.id}`);
    expect(res.status).toBe(401);
    expect(res.json.issue[0].diagnostics).toMatch(/expired/);
  });
});
