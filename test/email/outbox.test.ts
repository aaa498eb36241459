import { withTransaction } from '../../src/db/transaction';
import { FhirError } from '../../src/errors';
import { dispatchCollection, listOutbox } from '../../src/email/dispatch-state';
import { outboxCollection } from '../../src/email/outbox';
import { TestClock } from '../helpers/app';
import { useTestApp } from '../helpers/suite';
import { enqueue, mail } from '../helpers/email';

describe('outbox enqueue', () => {
  const clock = new TestClock();
  const t = useTestApp({ clock, env: { OUTBOX_POLL_MS: '0' } });

  test('writes one outbox document inside the transaction; it reads as pending, due now', async () => {
    const message = mail();
    const id = await enqueue(t.app, message);
    const doc = await outboxCollection(t.app.ctx.database).findOne({ _id: id });
    expect(doc).toEqual({
      _id: id,
      message: { to: message.to, subject: message.subject, text: message.text, html: message.html, kind: message.kind, links: message.links },
      createdAt: clock.now(),
    });
    expect(await listOutbox(t.app.ctx.database, { 'message.to': message.to })).toEqual([
      { id, message: doc?.message, createdAt: clock.now(), status: 'pending', attempts: 0, nextAttemptAt: clock.now() },
    ]);
    await outboxCollection(t.app.ctx.database).deleteMany({});
    await dispatchCollection(t.app.ctx.database).deleteMany({});
  });

  test('an aborted transaction leaves no outbox document and nothing to send', async () => {
    await expect(
      withTransaction(t.app.ctx.database, async (session) => {
        await t.app.ctx.email.enqueue(session, mail());
        throw new Error('the invite failed after enqueueing');
      }),
    ).rejects.toThrow('the invite failed after enqueueing');
    expect(await outboxCollection(t.app.ctx.database).countDocuments({})).toBe(0);
    expect(await t.app.ctx.email.dispatcher.runOnce()).toBe(0);
  });

  test('refuses an address that could inject headers or reach several people', async () => {
    for (const to of ['a@example.com\r\nBcc: evil@example.com', 'a@example.com, b@example.com', 'not-an-address', '']) {
      const err = await enqueue(t.app, mail({ to })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FhirError);
      expect((err as FhirError).statusCode).toBe(400);
      expect((err as FhirError).issues[0].expression).toEqual(['email']);
    }
    expect(await outboxCollection(t.app.ctx.database).countDocuments({})).toBe(0);
  });

  test('refuses a subject with a line break and an empty body', async () => {
    await expect(enqueue(t.app, mail({ subject: 'Hi\r\nBcc: x@example.com' }))).rejects.toBeInstanceOf(FhirError);
    await expect(enqueue(t.app, mail({ text: '' }))).rejects.toBeInstanceOf(FhirError);
    expect(await outboxCollection(t.app.ctx.database).countDocuments({})).toBe(0);
  });

  test('declares the indexes adoption and the claim use', async () => {
    const outboxIndexes = await outboxCollection(t.app.ctx.database).listIndexes().toArray();
    expect(outboxIndexes.map((i) => i.key)).toContainEqual({ createdAt: 1 });
    const stateIndexes = await dispatchCollection(t.app.ctx.database).listIndexes().toArray();
    expect(stateIndexes.map((i) => i.key)).toContainEqual({ status: 1, nextAttemptAt: 1 });
  });
});
