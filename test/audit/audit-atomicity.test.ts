import { Writable } from 'node:stream';
import pino from 'pino';
import type { AuditEvent } from '@medplum/fhirtypes';
import { SUBTYPE_SYSTEM } from '../../src/audit/audit-event';
import { AUDIT_COLLECTION, type StoredAuditEvent } from '../../src/audit/audit-store';
import { createAuditServices } from '../../src/audit/services';
import { connectDatabase } from '../../src/db/database';
import { sweepExpired, ttlRules } from '../../src/db/ttl-sweeper';
import { conflict } from '../../src/errors';
import type { ChangeListener } from '../../src/fhir/changes';
import { indexSpecs } from '../../src/app';
import { TestClock } from '../helpers/app';
import { createProjectAdmin } from '../helpers/fhir';
import { postInvite, uniqueEmail } from '../helpers/invite';
import { useTestApp } from '../helpers/suite';

const kindOf = (e: AuditEvent): string | undefined => e.subtype?.find((s) => s.system === SUBTYPE_SYSTEM)?.code;

describe('an event about a write commits or rolls back with it', () => {
  let refuseInvites = false;
  // Runs after the audit trail's listener (which comes first): the invite event is already written when this refuses.
  const refuser: ChangeListener = async (change) => {
    if (refuseInvites && change.type === 'ProjectMembership' && change.operation === 'invite') {
      throw conflict('refused by the test after the audit event was written');
    }
  };
  const t = useTestApp({ changeListeners: [refuser] });

  test('a rolled-back invite leaves neither its user, profile and membership nor its event; the same invite then lands with exactly one', async () => {
    const owner = await createProjectAdmin(t.app, 'Rollback', uniqueEmail('rollback-owner'));
    const email = uniqueEmail('rollback-invitee');
    const db = t.app.ctx.database.db;
    const count = async () => ({
      events: (await db.collection<StoredAuditEvent>(AUDIT_COLLECTION).find({ project: owner.projectId }).toArray()).filter((d) => kindOf(d.resource) === 'invite').length,
      users: await db.collection('User').countDocuments({ 'resource.email': email }),
      practitioners: await db.collection('Practitioner').countDocuments({ project: owner.projectId, 'resource.name.family': 'Rolledback' }),
      memberships: await db.collection('ProjectMembership').countDocuments({ project: owner.projectId }),
    });
    const before = await count();
    refuseInvites = true;
    const refused = await postInvite(t.app, owner.session.headers, owner.projectId, { resourceType: 'Practitioner', firstName: 'Roll', lastName: 'Rolledback', email, sendEmail: false });
    refuseInvites = false;
    expect(refused.statusCode).toBe(409);
    await t.app.ctx.audit.drain();
    expect(await count()).toEqual(before);

    const landed = await postInvite(t.app, owner.session.headers, owner.projectId, { resourceType: 'Practitioner', firstName: 'Roll', lastName: 'Rolledback', email, sendEmail: false });
    expect(landed.statusCode).toBe(201);
    expect(await count()).toEqual({ events: before.events + 1, users: 1, practitioners: 1, memberships: before.memberships + 1 });
  });
});

describe('auditing switched off (AppDeps.audit = false, the benchmark baseline)', () => {
  const t = useTestApp({ audit: false });

  test('writes and sign-ins leave no event', async () => {
    const owner = await createProjectAdmin(t.app, 'Unaudited', uniqueEmail('unaudited-owner'));
    expect((await postInvite(t.app, owner.session.headers, owner.projectId, { resourceType: 'Patient', firstName: 'No', lastName: 'Trail', email: uniqueEmail('no-trail'), sendEmail: false })).statusCode).toBe(201);
    expect((await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'admin@example.com', password: 'wrong-password-123' } })).statusCode).toBe(400);
    await t.app.ctx.audit.drain();
    expect(await t.app.ctx.database.db.collection(AUDIT_COLLECTION).countDocuments({})).toBe(0);
  });
});

describe('rate limits on auth routes', () => {
  const t = useTestApp({ env: { RATE_LIMIT: 'on', RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW_MS: '60000' } });

  test('each 429 leaves one rate-limited event with the address, never the body', async () => {
    const email = uniqueEmail('limited');
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: 'limited-password-1' } })).statusCode);
    }
    expect(statuses).toEqual([400, 400, 429, 429]);
    await t.app.ctx.audit.drain();
    const docs = await t.app.ctx.database.db.collection<StoredAuditEvent>(AUDIT_COLLECTION).find({}).toArray();
    const limited = docs.filter((d) => kindOf(d.resource) === 'rate-limited');
    expect(limited).toHaveLength(2);
    expect(limited[0].resource).toMatchObject({ outcome: '4', type: { code: '110113' }, outcomeDesc: 'POST /auth/login' });
    expect(limited[0].resource.agent[0].network?.address).toBe('127.0.0.1');
    expect(limited[0].project).toBeUndefined();
    expect(JSON.stringify(limited)).not.toContain(email);
    expect(JSON.stringify(limited)).not.toContain('limited-password-1');
  });
});

describe('an event that cannot be written', () => {
  test('is logged at error level and counted, and never fails the caller', async () => {
    const database = await connectDatabase(process.env.TEST_MONGODB_URI as string, `t_audit_closed_${Date.now()}`, true, { timeoutMs: 1000 });
    await database.close();
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const log = pino({ level: 'info' }, stream);
    const audit = createAuditServices({ database, clock: new TestClock(), log, config: { baseUrl: 'http://localhost:8103/', auditRetentionDays: 30 } });
    expect(() => audit.trail.record({ kind: 'sign-in', outcome: '4', outcomeDesc: 'invalid-credentials' })).not.toThrow();
    await audit.trail.drain();
    expect(audit.trail.failures()).toBe(1);
    const entry = lines.map((l) => JSON.parse(l) as { level: number; msg: string; audit?: string }).find((l) => l.msg === 'an audit event could not be written');
    expect(entry).toMatchObject({ level: 50, audit: 'sign-in' });
  });
});

describe('retention', () => {
  const clock = new TestClock(new Date('2026-03-01T00:00:00Z'));
  const t = useTestApp({ clock, env: { AUDIT_RETENTION_DAYS: '30' } });

  test('each event expires AUDIT_RETENTION_DAYS after it was recorded, under a TTL index; expired ones are swept', async () => {
    expect(t.config.auditRetentionDays).toBe(30);
    expect((await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'admin@example.com', password: 'wrong-password-123' } })).statusCode).toBe(400);
    await t.app.ctx.audit.drain();
    const collection = t.app.ctx.database.db.collection<StoredAuditEvent>(AUDIT_COLLECTION);
    const [event] = await collection.find({}).toArray();
    expect(event.expiresAt.toISOString()).toBe('2026-03-31T00:00:00.000Z');
    const indexes = await collection.listIndexes().toArray();
    expect(indexes.find((i) => i.name === 'audit_expire')).toMatchObject({ key: { expiresAt: 1 }, expireAfterSeconds: 0 });

    const rules = ttlRules(indexSpecs()).filter((r) => r.collection === AUDIT_COLLECTION);
    expect(rules).toEqual([{ collection: AUDIT_COLLECTION, field: 'expiresAt', expireAfterSeconds: 0 }]);
    clock.advance(29 * 86_400_000);
    await sweepExpired(t.app.ctx.database, rules, clock);
    expect(await collection.countDocuments({ _id: event._id })).toBe(1);
    clock.advance(2 * 86_400_000);
    await sweepExpired(t.app.ctx.database, rules, clock);
    expect(await collection.countDocuments({ _id: event._id })).toBe(0);
  });
});
