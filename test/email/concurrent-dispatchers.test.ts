import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app';
import { dispatchCollection } from '../../src/email/dispatch-state';
import { createOutboxDispatcher } from '../../src/email/dispatcher';
import { outboxCollection } from '../../src/email/outbox';
import { createSmtpTransport } from '../../src/email/smtp-transport';
import { createTestApp, TestClock, type TestApp } from '../helpers/app';
import { startTestSmtp, type TestSmtp } from '../helpers/smtp';
import { enqueue, eventually, mail } from '../helpers/email';

describe('several dispatchers on one database', () => {
  let smtp: TestSmtp;
  let t: TestApp;
  let second: FastifyInstance;
  const clock = new TestClock();
  const outbox = () => outboxCollection(t.app.ctx.database);
  const states = () => dispatchCollection(t.app.ctx.database);

  beforeAll(async () => {
    smtp = await startTestSmtp();
    t = await createTestApp({ clock, env: { SMTP_URL: smtp.url, OUTBOX_POLL_MS: '0' } });
    second = await buildApp(t.config, { database: t.app.ctx.database, clock, logger: false });
    await second.ready();
  });
  afterAll(async () => {
    await second.close();
    await t.close();
    await smtp.stop();
  });
  beforeEach(async () => {
    smtp.messages.length = 0;
    await outbox().deleteMany({});
    await states().deleteMany({});
  });

  test('two instances racing on 10 mails deliver each exactly once (three rounds)', async () => {
    const [a, b] = [t.app.ctx.email.dispatcher, second.ctx.email.dispatcher];
    for (let round = 0; round < 3; round++) {
      smtp.messages.length = 0;
      await outbox().deleteMany({});
      await states().deleteMany({});
      const ids: string[] = [];
      for (let i = 0; i < 10; i++) {
        ids.push(await enqueue(t.app, mail()));
      }
      const counts = await Promise.all([a.runOnce(), b.runOnce(), a.runOnce(), b.runOnce()]);
      expect(counts.reduce((x, y) => x + y, 0)).toBe(10);
      expect(await a.runOnce()).toBe(0);
      expect(await b.runOnce()).toBe(0);

      const received = smtp.messages.map((m) => m.messageId).sort();
      expect(received).toEqual(ids.map((id) => `<${id}@localhost>`).sort());
      const docs = await states().find({}).toArray();
      expect(docs.map((d) => d.status)).toEqual(Array(10).fill('sent'));
      expect(docs.every((d) => d.attempts === 1)).toBe(true);
    }
  });

  test('two dispatchers polling on their own timers deliver each mail once', async () => {
    const pollers = [0, 1].map(() => {
      const transport = createSmtpTransport(smtp.url);
      const dispatcher = createOutboxDispatcher({ database: t.app.ctx.database, clock, log: t.app.log, transport, emailFrom: 'no-reply@localhost', pollMs: 5 });
      return { transport, dispatcher };
    });
    try {
      pollers.forEach((p) => p.dispatcher.start());
      const ids: string[] = [];
      for (let i = 0; i < 8; i++) {
        ids.push(await enqueue(t.app, mail()));
      }
      await eventually(async () => (await states().countDocuments({ status: 'sent' })) === 8);
      await new Promise((r) => setTimeout(r, 200));
      expect(smtp.messages.map((m) => m.messageId).sort()).toEqual(ids.map((id) => `<${id}@localhost>`).sort());
    } finally {
      for (const p of pollers) {
        await p.dispatcher.stop();
        await p.transport.close?.();
      }
    }
  });
});
