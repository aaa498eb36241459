import { dispatchCollection } from '../../src/email/dispatch-state';
import { createSmtpTransport } from '../../src/email/smtp-transport';
import { TestClock } from '../helpers/app';
import { useTestApp } from '../helpers/suite';
import { closedPort, enqueue, mail, startSilentServer } from '../helpers/email';

describe('SMTP outage', () => {
  const clock = new TestClock();
  // Nothing listens on SMTP_URL, and the dispatcher's timer is running (as in production).
  const t = useTestApp(async () => ({ clock, env: { SMTP_URL: `smtp://127.0.0.1:${await closedPort()}`, OUTBOX_POLL_MS: '10' } }));

  test('a server that is down does not fail enqueue; the mail waits for a retry', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(await enqueue(t.app, mail()));
    }

    await t.app.ctx.email.dispatcher.runOnce();
    const docs = await dispatchCollection(t.app.ctx.database).find({}).toArray();
    expect(docs).toHaveLength(5);
    for (const doc of docs) {
      expect(doc.status).toBe('pending');
      expect(doc.attempts).toBe(1); // the frozen clock keeps them waiting for their backoff
      expect(doc.lastError).toMatch(/ECONNREFUSED|ECONNECTION|ESOCKET/);
      expect(doc.nextAttemptAt.getTime()).toBe(clock.now().getTime() + 5_000);
    }
  });
});

describe('SMTP hung', () => {
  // A server that accepts connections and never answers: if enqueue talked to SMTP it would hang.
  let silent: Awaited<ReturnType<typeof startSilentServer>>;
  const t = useTestApp(async () => {
    silent = await startSilentServer();
    return { env: { SMTP_URL: `smtp://127.0.0.1:${silent.port}`, OUTBOX_POLL_MS: '0' } };
  });
  afterAll(async () => {
    await silent.stop();
  });

  test('enqueue never touches SMTP: every mail is stored while no connection was made', async () => {
    for (let i = 0; i < 5; i++) {
      await enqueue(t.app, mail());
    }
    expect(silent.connections()).toBe(0);
    expect(await t.app.ctx.database.db.collection('outbox').countDocuments({})).toBe(5);
  });

  test('a hung server (accepts, never greets) fails a send within the greeting timeout', async () => {
    const silent = await startSilentServer();
    const transport = createSmtpTransport(`smtp://127.0.0.1:${silent.port}`, { connectionTimeout: 300, greetingTimeout: 300, socketTimeout: 500, dnsTimeout: 300 });
    try {
      const send = transport.send({ ...mail(), from: 'no-reply@localhost', messageId: '<x@localhost>', outboxId: 'x', createdAt: new Date() });
      // Without the timeouts this would wait until jest's own limit; with them it rejects.
      await expect(send).rejects.toMatchObject({ code: expect.stringMatching(/ETIMEDOUT|ECONNECTION|ESOCKET/) });
    } finally {
      await transport.close?.();
      await silent.stop();
    }
  });
});
