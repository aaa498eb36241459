import type { User } from '@medplum/fhirtypes';
import { dispatchCollection, SWEEP_EVERY_MS } from '../../src/email/dispatch-state';
import { outboxCollection, type OutboxDocument } from '../../src/email/outbox';
import { createResource } from '../../src/fhir/repository';
import { createTestApp, TestClock, type TestApp } from '../helpers/app';
import { startCustomSmtp, type CustomSmtp } from '../helpers/email';
import { enqueue, mail } from '../helpers/email';

/**
 * Once a mail has left (or was given up on), its outbox document keeps who, what and which kind,
 * but no longer its bodies and links: they carry live activation secrets.
 */
describe('the outbox forgets the bodies of delivered and failed mail', () => {
  /** A real SMTP server that refuses chosen recipients for good (550). */
  let smtp: CustomSmtp;
  let t: TestApp;
  const clock = new TestClock();
  const outbox = () => outboxCollection(t.app.ctx.database);
  const runOnce = () => t.app.ctx.email.dispatcher.runOnce();

  beforeAll(async () => {
    smtp = await startCustomSmtp();
    t = await createTestApp({ clock, env: { SMTP_URL: smtp.url, OUTBOX_POLL_MS: '0' } });
  });
  afterAll(async () => {
    await t.close();
    await smtp.stop();
  });

  function expectPurged(doc: OutboxDocument | null, expected: { to: string; subject: string; kind: string }): void {
    expect(doc).toEqual({ _id: doc?._id, createdAt: doc?.createdAt, bodyPurged: true, message: expected });
  }

  test('a password-reset mail: after delivery no activation secret is left in its outbox document', async () => {
    const email = 'purge-me@example.com';
    await createResource<User>({ database: t.app.ctx.database, clock }, { resourceType: 'User', firstName: 'Pia', lastName: 'Urge', email });
    const res = await t.app.inject({ method: 'POST', url: '/auth/resetpassword', payload: { email } });
    expect(res.statusCode).toBe(200);
    await t.app.ctx.auth.background.drain(); // the reset is done after the answer
    const [queued] = await outbox().find({ 'message.to': email }).toArray();
    expect(JSON.stringify(queued)).toContain('/setpassword/'); // the link is there until it is sent

    expect(await runOnce()).toBe(1);
    const delivered = smtp.messages.find((m) => m.subject === 'Set a new password');
    const url = /(http:\/\/localhost:8103\/setpassword\/([A-Za-z0-9_-]+)\/([A-Za-z0-9_-]+))/.exec(delivered?.text ?? '');
    expect(url).not.toBeNull();
    const secret = (url as RegExpExecArray)[3];

    const doc = await outbox().findOne({ _id: queued._id });
    expectPurged(doc, { to: email, subject: 'Set a new password', kind: 'password-reset' });
    const stored = JSON.stringify(doc);
    expect(stored).not.toContain(secret);
    expect(stored).not.toContain('/setpassword/');
    expect(await dispatchCollection(t.app.ctx.database).findOne({ _id: queued._id })).toMatchObject({ status: 'sent' });
  });

  test('a mail refused for good (550) is marked failed and purged too', async () => {
    const message = mail({ to: 'refused@example.com' });
    smtp.refuse.add('refused@example.com');
    const id = await enqueue(t.app, message);
    expect(await runOnce()).toBe(0);
    expect(await dispatchCollection(t.app.ctx.database).findOne({ _id: id })).toMatchObject({ status: 'failed' });
    const doc = await outbox().findOne({ _id: id });
    expectPurged(doc, { to: message.to, subject: message.subject, kind: message.kind });
    expect(JSON.stringify(doc)).not.toContain(message.links?.[0] as string);
  });

  test('a sent mail whose body is still stored (e.g. sent before purging existed) is purged by the sweep', async () => {
    const message = mail();
    const id = await enqueue(t.app, message);
    expect(await runOnce()).toBe(1);
    await outbox().updateOne({ _id: id }, { $set: { message }, $unset: { bodyPurged: '' } });

    clock.advance(SWEEP_EVERY_MS);
    await runOnce();
    expectPurged(await outbox().findOne({ _id: id }), { to: message.to, subject: message.subject, kind: message.kind });
  });

  test('a purged mail is never sent again (an empty mail would go out)', async () => {
    const message = mail();
    const id = await enqueue(t.app, message);
    expect(await runOnce()).toBe(1);
    const sent = smtp.messages.length;
    // As if another instance had claimed it before this one recorded the delivery.
    await dispatchCollection(t.app.ctx.database).updateOne({ _id: id }, { $set: { status: 'pending', nextAttemptAt: clock.now() } });
    expect(await runOnce()).toBe(0);
    expect(smtp.messages).toHaveLength(sent);
    expectPurged(await outbox().findOne({ _id: id }), { to: message.to, subject: message.subject, kind: message.kind });
  });
});
