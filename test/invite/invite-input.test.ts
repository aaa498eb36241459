import { snapshotDatabase } from '../helpers/app';
import { useSignIn, useTestApp } from '../helpers/suite';
import { createProject, uniqueEmail } from '../helpers/invite';
import { firstIssue, outputs, postInvite, type InviteForm } from '../helpers/invite';

const valid = { resourceType: 'Practitioner', firstName: 'Ada', lastName: 'Lovelace', sendEmail: false };

describe('invite input validation', () => {
  const t = useTestApp();
  const admin = useSignIn(t);
  let projectId: string;

  beforeAll(async () => {
    projectId = (await createProject(t.app)).id;
  });

  const cases: [string, Record<string, unknown>, string][] = [
    ['a resourceType that is not a profile type', { ...valid, resourceType: 'Organization', email: 'a@example.com' }, 'resourceType'],
    ['a missing firstName', { resourceType: 'Patient', lastName: 'L', email: 'a@example.com' }, 'firstName'],
    ['an object where firstName belongs (operator injection)', { ...valid, firstName: { $ne: null }, email: 'a@example.com' }, 'firstName'],
    ['an object where email belongs (operator injection)', { ...valid, email: { $gt: '' } }, 'email'],
    ['an invalid email', { ...valid, email: 'not-an-email' }, 'email'],
    ['an invalid email even with an externalId', { ...valid, email: 'not-an-email', externalId: 'ext-1' }, 'email'],
    ['an empty email', { ...valid, email: '' }, 'email'],
    ['neither email nor externalId', { ...valid }, 'email'],
    ['a scope other than server or project', { ...valid, email: 'a@example.com', scope: 'global' }, 'scope'],
    ['a password shorter than 8', { ...valid, email: 'a@example.com', password: 'short' }, 'password'],
    ['a password longer than 72 bytes (fewer characters)', { ...valid, email: 'a@example.com', password: 'é'.repeat(37) }, 'password'],
    ['an unknown field', { ...valid, email: 'a@example.com', projectId: 'x' }, 'projectId'],
    ['an unknown membership field', { ...valid, email: 'a@example.com', membership: { project: { reference: 'Project/x' } } }, 'membership.project'],
    ['a string where a Reference belongs', { ...valid, email: 'a@example.com', membership: { accessPolicy: 'AccessPolicy/1' } }, 'membership.accessPolicy'],
    ['a malformed reference', { ...valid, email: 'a@example.com', accessPolicy: { reference: 'not a reference' } }, 'accessPolicy.reference'],
    ['an accessPolicy that references another type', { ...valid, email: 'a@example.com', accessPolicy: { reference: 'Patient/1' } }, 'accessPolicy'],
    ['an access entry whose policy references another type', { ...valid, email: 'a@example.com', access: [{ policy: { reference: 'Patient/1' } }] }, 'access[0].policy'],
    ['upsert together with forceNewMembership', { ...valid, email: 'a@example.com', upsert: true, forceNewMembership: true }, 'forceNewMembership'],
    ['an object where a boolean belongs', { ...valid, email: 'a@example.com', sendEmail: {} }, 'sendEmail'],
    ['a line break in a name', { ...valid, email: 'a@example.com', lastName: 'Love\r\nBcc: x@example.com' }, 'lastName'],
    ['a server scope for an externalId-only invite', { ...valid, externalId: 'ext-1', scope: 'server' }, 'scope'],
    ['a patient for a Practitioner', { ...valid, email: 'a@example.com', patient: { reference: 'Patient/1' } }, 'patient'],
    ['accessPolicy and membership.accessPolicy that differ', { ...valid, email: 'a@example.com', accessPolicy: { reference: 'AccessPolicy/1' }, membership: { accessPolicy: { reference: 'AccessPolicy/2' } } }, 'membership.accessPolicy'],
    ['a membership.profile of another type', { ...valid, email: 'a@example.com', membership: { profile: { reference: 'Patient/1' } } }, 'membership.profile'],
  ];

  describe.each(['json', 'admin'] as InviteForm[])('in the %s form', (form) => {
    test.each(cases)('refuses %s with a 400 naming the field, writing nothing', async (_label, body, expression) => {
      const before = await snapshotDatabase(t.app);
      const res = await postInvite(t.app, admin.headers, projectId, body, { form });
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toMatch(/application\/fhir\+json/);
      const issues = (res.json() as { issue: { expression?: string[] }[] }).issue;
      expect(issues.flatMap((i) => i.expression ?? [])).toContain(expression);
      expect(await snapshotDatabase(t.app)).toEqual(before);
    });
  });

  test('refuses a body that is not an object', async () => {
    const res = await t.app.inject({ method: 'POST', url: `/fhir/R4/Project/${projectId}/$invite`, headers: { ...admin.headers, 'content-type': 'application/json' }, payload: '[1,2]' });
    expect(res.statusCode).toBe(400);
    expect(firstIssue(res).expression).toEqual(['body']);
  });

  test.each([
    ['an unknown parameter', { resourceType: 'Parameters', parameter: [{ name: 'colour', valueString: 'red' }] }, 'colour'],
    [
      'a boolean given as a string',
      { resourceType: 'Parameters', parameter: [{ name: 'resourceType', valueCode: 'Patient' }, { name: 'firstName', valueString: 'A' }, { name: 'lastName', valueString: 'B' }, { name: 'sendEmail', valueString: 'no' }] },
      'sendEmail',
    ],
    [
      'an email given twice',
      {
        resourceType: 'Parameters',
        parameter: [
          { name: 'resourceType', valueCode: 'Patient' },
          { name: 'firstName', valueString: 'A' },
          { name: 'lastName', valueString: 'B' },
          { name: 'email', valueString: 'a@example.com' },
          { name: 'email', valueString: 'b@example.com' },
        ],
      },
      'email',
    ],
    [
      'an invalid email in a Parameters body',
      { resourceType: 'Parameters', parameter: [{ name: 'resourceType', valueCode: 'Patient' }, { name: 'firstName', valueString: 'A' }, { name: 'lastName', valueString: 'B' }, { name: 'email', valueString: 'nope' }] },
      'email',
    ],
  ])('the Parameters form refuses %s, naming it', async (_label, payload, expression) => {
    const before = await snapshotDatabase(t.app);
    const res = await t.app.inject({ method: 'POST', url: `/fhir/R4/Project/${projectId}/$invite`, headers: { ...admin.headers, 'content-type': 'application/fhir+json' }, payload });
    expect(res.statusCode).toBe(400);
    expect(firstIssue(res).expression).toEqual([expression]);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('refuses a malformed Idempotency-Key', async () => {
    const res = await postInvite(t.app, admin.headers, projectId, { ...valid, email: uniqueEmail() }, { idempotencyKey: 'has a space' });
    expect(res.statusCode).toBe(400);
    expect(firstIssue(res).expression).toEqual(['Idempotency-Key']);
  });

  test('lower-cases the email everywhere', async () => {
    const email = `Ada.${Date.now()}@Example.COM`;
    const res = await postInvite(t.app, admin.headers, projectId, { ...valid, email });
    expect(res.statusCode).toBe(201);
    const out = outputs(res);
    expect(out.user.reference).toMatch(/^User\//);
    const user = await t.app.ctx.database.db.collection('User').findOne({ _id: out.user.reference.slice(5) as never });
    expect(user?.resource.email).toBe(email.toLowerCase());
    expect(JSON.stringify(out.profile)).toContain(email.toLowerCase());
  });

  test('accepts a password of exactly 72 bytes', async () => {
    const password = 'plum tree under moonlight, '.repeat(3).slice(0, 72);
    expect(Buffer.byteLength(password)).toBe(72);
    const res = await postInvite(t.app, admin.headers, projectId, { ...valid, email: uniqueEmail(), scope: 'project', password });
    expect(res.statusCode).toBe(201);
  });
});
