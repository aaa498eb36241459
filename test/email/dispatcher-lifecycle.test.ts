import { MongoClient } from 'mongodb';
import { DISPATCH_COLLECTION, dispatchCollection } from '../../src/email/dispatch-state';
import { outboxCollection } from '../../src/email/outbox';
import { createTestApp, TestClock } from '../helpers/app';
import { useTestApp } from '../helpers/suite';
import { captureLogs, enqueue, eventually, mail } from '../helpers/email';

describe('outbox dispatcher lifecycle', () => {
  const logs = captureLogs();
  const clock = new TestClock();
  /** One app without a timer (OUTBOX_POLL_MS=0); the last test stops it. */
  const t = useTestApp({ clock, smtp: true, env: { OUTBOX_POLL_MS: '0' }, logger: logs.logger });
  const outbox = () => outboxCollection(t.app.ctx.database);
  const states = () => dispatchCollection(t.app.ctx.database);

  afterEach(async () => {
    t.smtp.messages.length = 0;
    t.smtp.refuse.clear();
    t.smtp.hold = undefined;
    await outbox().deleteMany({});
    await states().deleteMany({});
  });

  test('starts with the server: a committed mail goes out without anyone calling runOnce', async () => {
    const timed = await createTestApp({ env: { SMTP_URL: t.smtp.url, OUTBOX_POLL_MS: '20' } });
    try {
      const id = await enqueue(timed.app, mail());
      await eventually(() => t.smtp.messages.length === 1);
      await eventually(async () => (await dispatchCollection(timed.app.ctx.database).findOne({ _id: id }))?.status === 'sent');
    } finally {
      await timed.close();
    }
  });

  test('closing the app waits for a send in flight and records it before the database closes', async () => {
    const closing = await createTestApp({ env: { SMTP_URL: t.smtp.url, OUTBOX_POLL_MS: '0' } });
    let release!: () => void;
    t.smtp.hold = new Promise<void>((r) => (release = r));
    const before = t.smtp.dataCount;
    const id = await enqueue(closing.app, mail());
    const run = closing.app.ctx.email.dispatcher.runOnce();
    await eventually(() => t.smtp.dataCount === before + 1);
    const closed = closing.close();
    await new Promise((r) => setTimeout(r, 100));
    release();
    await closed;
    expect(await run).toBe(1);
    const client = await MongoClient.connect(process.env.TEST_MONGODB_URI as string);
    try {
      const state = await client.db(closing.config.mongodbDatabase).collection(DISPATCH_COLLECTION).findOne({ _id: id as never });
      expect(state).toMatchObject({ status: 'sent' });
    } finally {
      await client.close();
    }
  });

  test('OUTBOX_POLL_MS=0 runs no timer, runOnce still delivers', async () => {
    await enqueue(t.app, mail());
    await new Promise((r) => setTimeout(r, 150));
    expect(t.smtp.messages).toHaveLength(0);
    expect(await t.app.ctx.email.dispatcher.runOnce()).toBe(1);
    expect(t.smtp.messages).toHaveLength(1);
  });

  test('a recipient refused for good (550) is marked failed at once, with a warning', async () => {
    t.smtp.refuse.add('gone@example.com');
    const id = await enqueue(t.app, mail({ to: 'gone@example.com' }));
    expect(await t.app.ctx.email.dispatcher.runOnce()).toBe(0);
    const doc = await states().findOne({ _id: id });
    expect(doc).toMatchObject({ status: 'failed', attempts: 1 });
    expect(doc?.lastError).toContain('550');
    const warning = logs.lines.find((l) => l.outboxId === id && l.level === 40);
    expect(warning).toBeDefined();
    expect(warning?.error).toContain('550');
    // No log line carries the mail body or its link.
    expect(JSON.stringify(logs.lines)).not.toContain('/setpassword/');
  });

  test('runs of one instance never overlap', async () => {
    let release!: () => void;
    t.smtp.hold = new Promise<void>((r) => (release = r));
    for (let i = 0; i < 3; i++) {
      await enqueue(t.app, mail());
    }
    const before = t.smtp.dataCount;
    const runs = [t.app.ctx.email.dispatcher.runOnce(), t.app.ctx.email.dispatcher.runOnce(), t.app.ctx.email.dispatcher.runOnce()];
    await new Promise((r) => setTimeout(r, 200));
    // One run, one send at a time: only the first mail reached the server.
    expect(t.smtp.dataCount).toBe(before + 1);
    release();
    const counts = await Promise.all(runs);
    expect(counts).toEqual([3, 0, 0]);
    expect(t.smtp.messages).toHaveLength(3);
  });

  // Last: it stops the dispatcher of the shared app.
  test('stop() waits for a send in flight, which is then recorded as sent; later runs send nothing', async () => {
    let release!: () => void;
    t.smtp.hold = new Promise<void>((r) => (release = r));
    const before = t.smtp.dataCount;
    const id = await enqueue(t.app, mail());
    await enqueue(t.app, mail());
    const run = t.app.ctx.email.dispatcher.runOnce();
    await eventually(() => t.smtp.dataCount === before + 1);

    let stopped = false;
    const stopping = t.app.ctx.email.dispatcher.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 150));
    expect(stopped).toBe(false);

    release();
    await stopping;
    expect(await run).toBe(1); // the second mail is left for later: the dispatcher was stopping
    expect(await states().findOne({ _id: id })).toMatchObject({ status: 'sent' });
    expect(await states().countDocuments({ status: 'pending', leaseOwner: { $exists: false } })).toBe(1);
    expect(await t.app.ctx.email.dispatcher.runOnce()).toBe(0);
    expect(t.smtp.messages).toHaveLength(1);
  });
});
