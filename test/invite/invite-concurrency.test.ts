import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/app';
import { snapshotDatabase } from '../helpers/app';
import { useSignIn, useTestApp } from '../helpers/suite';
import { countCurrent, createProject, uniqueEmail } from '../helpers/invite';
import { firstIssue, outputs, postInvite } from '../helpers/invite';

const person = { resourceType: 'Practitioner', firstName: 'Con', lastName: 'Current' };

function statuses(responses: LightMyRequestResponse[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const r of responses) {
    counts[r.statusCode] = (counts[r.statusCode] ?? 0) + 1;
  }
  return counts;
}

describe('invite: concurrency, retries and Idempotency-Key', () => {
  const t = useTestApp();
  const admin = useSignIn(t);

  /** What exists for one invitee; `orphans` counts documents pointing at a User that does not exist. */
  async function counts(email: string, projectId: string): Promise<{ users: number; memberships: number; profiles: number; orphans: number }> {
    const db = t.app.ctx.database.db;
    const userIds = (await db.collection('User').find({ 'resource.email': email }).toArray()).map((u) => String(u._id));
    const memberships = await db.collection('ProjectMembership').find({ project: projectId }).toArray();
    const allUsers = (await db.collection('User').find({}).toArray()).map((u) => String(u._id));
    const activations = await db.collection('activations').find({}).toArray();
    const strangers = memberships.filter((m) => !userIds.includes(String(m.resource.user.reference).slice('User/'.length)));
    return {
      users: userIds.length,
      memberships: await countCurrent(t.app, 'ProjectMembership', { project: projectId }),
      profiles: await countCurrent(t.app, 'Practitioner', { project: projectId }),
      orphans: strangers.length + activations.filter((a) => !allUsers.includes(String(a.userId))).length,
    };
  }

  test('20 identical invites at once: one User, one membership, one 201, the others 409, no 5xx', async () => {
    const project = await createProject(t.app);
    const email = uniqueEmail();
    const responses = await Promise.all(Array.from({ length: 20 }, () => postInvite(t.app, admin.headers, project.id, { ...person, email, sendEmail: false })));
    expect(statuses(responses)).toEqual({ 201: 1, 409: 19 });
    for (const r of responses.filter((x) => x.statusCode === 409)) {
      expect(firstIssue(r).text).toMatch(/already a member/);
    }
    expect(await counts(email, project.id)).toEqual({ users: 1, memberships: 1, profiles: 1, orphans: 0 });
  });

  test('20 identical invites with the same Idempotency-Key: all answer the first result, one mail queued', async () => {
    const project = await createProject(t.app);
    const email = uniqueEmail();
    const responses = await Promise.all(Array.from({ length: 20 }, () => postInvite(t.app, admin.headers, project.id, { ...person, email }, { idempotencyKey: `key-${email}` })));
    expect(statuses(responses)).toEqual({ 201: 20 });
    expect(new Set(responses.map((r) => r.body)).size).toBe(1);
    expect(responses.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(19);
    expect(await counts(email, project.id)).toEqual({ users: 1, memberships: 1, profiles: 1, orphans: 0 });
    expect(await t.app.ctx.database.db.collection('outbox').countDocuments({ 'message.to': email })).toBe(1);
  });

  test('a replay answers the same activation link, which is never stored in the clear', async () => {
    const project = await createProject(t.app);
    const email = uniqueEmail();
    const key = `k-${email}`;
    const first = await postInvite(t.app, admin.headers, project.id, { ...person, email, sendEmail: false }, { idempotencyKey: key });
    const second = await postInvite(t.app, admin.headers, project.id, { ...person, email, sendEmail: false }, { idempotencyKey: key });
    expect([first.statusCode, second.statusCode]).toEqual([201, 201]);
    const url = outputs(first).activationUrl as string;
    expect(url).toMatch(/^http:\/\/localhost:8103\/setpassword\/[\w-]+\/[\w-]+$/);
    expect(outputs(second).activationUrl).toBe(url);
    const secret = url.split('/').pop() as string;
    const everything = JSON.stringify(await snapshotDatabase(t.app));
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain(key);
  });

  test('the same key with a different request → 422, nothing written', async () => {
    const project = await createProject(t.app);
    const key = `reuse-${uniqueEmail()}`;
    expect((await postInvite(t.app, admin.headers, project.id, { ...person, email: uniqueEmail(), sendEmail: false }, { idempotencyKey: key })).statusCode).toBe(201);
    // The dispatcher may still be delivering the mail of the tests above.
    const snapshot = () => snapshotDatabase(t.app, { mailInFlight: true });
    const before = await snapshot();
    const res = await postInvite(t.app, admin.headers, project.id, { ...person, email: uniqueEmail(), sendEmail: false }, { idempotencyKey: key });
    expect(res.statusCode).toBe(422);
    expect(firstIssue(res).expression).toEqual(['Idempotency-Key']);
    expect(await snapshot()).toEqual(before);
  });

  test('the same key on the other endpoint is another request (422), not a replay of a different shape', async () => {
    const project = await createProject(t.app);
    const email = uniqueEmail();
    const key = `form-${email}`;
    expect((await postInvite(t.app, admin.headers, project.id, { ...person, email, sendEmail: false }, { idempotencyKey: key })).statusCode).toBe(201);
    expect((await postInvite(t.app, admin.headers, project.id, { ...person, email, sendEmail: false }, { idempotencyKey: key, form: 'admin' })).statusCode).toBe(422);
  });

  test('one server-scoped person invited into two projects at once: one User, two memberships', async () => {
    const [a, b] = [await createProject(t.app), await createProject(t.app)];
    const email = uniqueEmail();
    const responses = await Promise.all([a, b, a, b].map((p) => postInvite(t.app, admin.headers, p.id, { ...person, email, sendEmail: false })));
    expect(statuses(responses)).toEqual({ 201: 2, 409: 2 });
    expect(await countCurrent(t.app, 'User', { 'resource.email': email })).toBe(1);
  });

  describe('two server instances on one database (no shared lock: the unique keys decide)', () => {
    let second: FastifyInstance;
    beforeAll(async () => {
      // On a real MongoDB (MONGODB_URI) each instance has its own connection and the unique keys
      // decide. The embedded engine cannot arbitrate transactions from two connections (it applies
      // part of a transaction that clashes at commit), so there the instances share one database
      // handle (and its transaction lock) but nothing else: each has its own invite lock.
      second = await buildApp(t.config, { logger: false, ...(process.env.MONGODB_URI ? {} : { database: t.app.ctx.database }) });
      await second.ready();
    });
    afterAll(async () => {
      await second.close();
    });

    test('identical invites spread over both: one User, one membership, no 5xx', async () => {
      const project = await createProject(t.app);
      const email = uniqueEmail();
      const apps = [t.app, second, t.app, second, t.app, second];
      const responses = await Promise.all(apps.map((app) => postInvite(app, admin.headers, project.id, { ...person, email, sendEmail: false })));
      expect(responses.filter((r) => r.statusCode >= 500)).toEqual([]);
      expect(statuses(responses)[201]).toBe(1);
      expect(await counts(email, project.id)).toEqual({ users: 1, memberships: 1, profiles: 1, orphans: 0 });
    });

    test('with one Idempotency-Key over both instances: every answer is the first result', async () => {
      const project = await createProject(t.app);
      const email = uniqueEmail();
      const apps = [t.app, second, t.app, second];
      const responses = await Promise.all(apps.map((app) => postInvite(app, admin.headers, project.id, { ...person, email, sendEmail: false }, { idempotencyKey: `both-${email}` })));
      expect(responses.filter((r) => r.statusCode >= 500)).toEqual([]);
      const ok = responses.filter((r) => r.statusCode === 201);
      expect(ok.length).toBeGreaterThanOrEqual(1);
      expect(new Set(ok.map((r) => outputs(r).membership.id)).size).toBe(1);
      expect(await counts(email, project.id)).toEqual({ users: 1, memberships: 1, profiles: 1, orphans: 0 });
    });
  });
});
