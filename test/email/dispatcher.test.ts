import { dispatchCollection, listOutbox } from '../../src/email/dispatch-state';
import { outboxCollection } from '../../src/email/outbox';
import { retryDelayMs, DEFAULT_RETRY_POLICY } from '../../src/email/retry-policy';
import { TestClock } from '../helpers/app';
import { useTestApp } from '../helpers/suite';
import { enqueue, mail } from '../helpers/email';

describe('outbox dispatcher over SMTP', () => {
  const clock = new TestClock();
  const t = useTestApp({ clock, smtp: true, env: { OUTBOX_POLL_MS: '0', EMAIL_FROM: 'Invites <no-reply@clinic.example>' } });
  const outbox = () => outboxCollection(t.app.ctx.database);
  const states = () => dispatchCollection(t.app.ctx.database);
  const runOnce = () => t.app.ctx.email.dispatcher.runOnce();

  afterEach(async () => {
    t.smtp.failing = false;
    t.smtp.messages.length = 0;
    await outbox().deleteMany({});
    await states().deleteMany({});
  });

  test('delivers a mail once, with its text and HTML bodies and a Message-ID from the outbox id', async () => {
    const message = mail();
    const id = await enqueue(t.app, message);
    expect(t.smtp.messages).toHaveLength(0); // nothing is sent at enqueue time

    expect(await runOnce()).toBe(1);
    expect(t.smtp.messages).toHaveLength(1);
    const received = t.smtp.messages[0];
    expect(received.subject).toBe(message.subject);
    expect(received.text?.trim()).toBe(message.text);
    expect(received.html).toContain(message.links?.[0]);
    expect(received.to).toMatchObject({ value: [{ address: message.to }] });
    expect(received.from).toMatchObject({ value: [{ address: 'no-reply@clinic.example', name: 'Invites' }] });
    expect(received.messageId).toBe(`<${id}@clinic.example>`);

    expect(await runOnce()).toBe(0);
    expect(t.smtp.messages).toHaveLength(1);
    const doc = await states().findOne({ _id: id });
    expect(doc).toMatchObject({ status: 'sent', attempts: 1, sentAt: clock.now(), kind: message.kind });
    expect(doc?.leaseOwner).toBeUndefined();
    // Once sent, the outbox document keeps who, what and which kind; its bodies and links are purged.
    expect(await outbox().findOne({ _id: id })).toEqual({ _id: id, message: { to: message.to, subject: message.subject, kind: message.kind }, createdAt: clock.now(), bodyPurged: true });
    expect(await listOutbox(t.app.ctx.database, { _id: id })).toMatchObject([{ id, status: 'sent', attempts: 1, sentAt: clock.now() }]);
  });

  test('processes several due mails in one run, oldest first', async () => {
    const first = await enqueue(t.app, mail());
    clock.advance(1);
    const second = await enqueue(t.app, mail());
    clock.advance(1);
    const third = await enqueue(t.app, mail());
    expect(await runOnce()).toBe(3);
    expect(t.smtp.messages.map((m) => m.messageId)).toEqual([first, second, third].map((id) => `<${id}@clinic.example>`));
  });

  test('SMTP refusing mail, then back: delivered exactly once after the backoff', async () => {
    t.smtp.failing = true;
    const id = await enqueue(t.app, mail());
    expect(await runOnce()).toBe(0);
    let doc = await states().findOne({ _id: id });
    expect(doc).toMatchObject({ status: 'pending', attempts: 1 });
    expect(doc?.lastError).toContain('451');
    expect(doc?.nextAttemptAt.getTime()).toBe(clock.now().getTime() + 5_000);
    expect(doc?.leaseOwner).toBeUndefined();

    // Not due yet: nothing is tried.
    t.smtp.failing = false;
    clock.advance(4_999);
    expect(await runOnce()).toBe(0);
    expect((await states().findOne({ _id: id }))?.attempts).toBe(1);

    clock.advance(1);
    expect(await runOnce()).toBe(1);
    expect(await runOnce()).toBe(0);
    clock.advance(3600_000);
    expect(await runOnce()).toBe(0);
    expect(t.smtp.messages).toHaveLength(1);
    expect(t.smtp.messages[0].messageId).toBe(`<${id}@clinic.example>`);
    doc = await states().findOne({ _id: id });
    expect(doc).toMatchObject({ status: 'sent', attempts: 2 });
  });

  test('retries on the backoff schedule up to the cap, then marks the mail failed', async () => {
    t.smtp.failing = true;
    const id = await enqueue(t.app, mail());
    const waits: number[] = [];
    for (let attempt = 1; attempt <= DEFAULT_RETRY_POLICY.maxAttempts; attempt++) {
      expect(await runOnce()).toBe(0);
      const doc = await states().findOne({ _id: id });
      expect(doc?.attempts).toBe(attempt);
      if (attempt < DEFAULT_RETRY_POLICY.maxAttempts) {
        expect(doc?.status).toBe('pending');
        const wait = (doc?.nextAttemptAt.getTime() ?? 0) - clock.now().getTime();
        waits.push(wait);
        clock.advance(wait);
      }
    }
    expect(waits).toEqual(Array.from({ length: DEFAULT_RETRY_POLICY.maxAttempts - 1 }, (_, i) => retryDelayMs(i + 1)));
    expect(Math.max(...waits)).toBe(10 * 60_000);
    const failed = await states().findOne({ _id: id });
    expect(failed).toMatchObject({ status: 'failed', attempts: DEFAULT_RETRY_POLICY.maxAttempts, failedAt: clock.now() });
    expect(failed?.lastError).toContain('451');

    // A failed mail is never tried again, even once SMTP is back.
    t.smtp.failing = false;
    clock.advance(24 * 3600_000);
    expect(await runOnce()).toBe(0);
    expect(t.smtp.messages).toHaveLength(0);
  });

  test('a mail leased by a crashed instance is taken over once its lease expires', async () => {
    const id = await enqueue(t.app, mail());
    const now = clock.now();
    // Another instance adopted and claimed it, then died mid-send.
    await states().insertOne({ _id: id, status: 'pending', attempts: 1, nextAttemptAt: now, createdAt: now, kind: 'invite-new-user', leaseOwner: 'crashed-instance', leaseUntil: new Date(now.getTime() + 60_000) });
    expect(await runOnce()).toBe(0);
    clock.advance(59_999);
    expect(await runOnce()).toBe(0);
    clock.advance(2);
    expect(await runOnce()).toBe(1);
    expect(t.smtp.messages).toHaveLength(1);
    expect(await states().findOne({ _id: id })).toMatchObject({ status: 'sent', attempts: 2 });
  });
});
