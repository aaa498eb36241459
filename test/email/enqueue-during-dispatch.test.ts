import { dispatchCollection } from '../../src/email/dispatch-state';
import { outboxCollection } from '../../src/email/outbox';
import { useTestApp } from '../helpers/suite';
import { enqueue, eventually, mail } from '../helpers/email';

/**
 * Mail is enqueued (each in its own transaction) while the dispatcher polls every millisecond
 * and writes its delivery state. The embedded engine loses writes when a transaction commits
 * into a collection that is also written outside transactions, so the dispatcher must never
 * write the outbox collection itself: this test lost mail when it did.
 */
describe('enqueueing while the dispatcher works', () => {
  const t = useTestApp({ smtp: true, env: { OUTBOX_POLL_MS: '1' } });

  test('every mail enqueued during dispatching is kept and delivered exactly once', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      ids.push(await enqueue(t.app, mail()));
    }
    expect(await outboxCollection(t.app.ctx.database).countDocuments({})).toBe(40);
    await eventually(async () => (await dispatchCollection(t.app.ctx.database).countDocuments({ status: 'sent' })) === 40, 15_000);
    await new Promise((r) => setTimeout(r, 200));
    const received = t.smtp.messages.map((m) => m.messageId).sort();
    expect(received).toEqual(ids.map((id) => `<${id}@localhost>`).sort());
  });
});
