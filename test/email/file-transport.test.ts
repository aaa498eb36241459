import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { dispatchCollection } from '../../src/email/dispatch-state';
import { TestClock } from '../helpers/app';
import { useTestApp } from '../helpers/suite';
import { captureLogs, enqueue, mail } from '../helpers/email';

describe('file transport (SMTP_URL unset)', () => {
  const clock = new TestClock();
  const logs = captureLogs();
  const t = useTestApp({ clock, env: { OUTBOX_POLL_MS: '0', EMAIL_FROM: 'no-reply@clinic.example' }, logger: logs.logger });

  test('writes a parseable .eml under DATA_DIR/outbox and logs the recipient, subject and link', async () => {
    const message = mail();
    const id = await enqueue(t.app, message);
    expect(await t.app.ctx.email.dispatcher.runOnce()).toBe(1);

    const dir = join(t.config.dataDir, 'outbox');
    const files = readdirSync(dir);
    expect(files).toEqual([`20260115T120000000Z-${id}.eml`]);
    const parsed = await simpleParser(readFileSync(join(dir, files[0])));
    expect(parsed.subject).toBe(message.subject);
    expect(parsed.text?.trim()).toBe(message.text);
    expect(parsed.html).toContain(message.links?.[0]);
    expect(parsed.messageId).toBe(`<${id}@clinic.example>`);
    expect(parsed.to).toMatchObject({ value: [{ address: message.to }] });
    expect(parsed.from).toMatchObject({ value: [{ address: 'no-reply@clinic.example' }] });

    const line = logs.lines.find((l) => Array.isArray(l.links) && (l.links as string[]).includes(message.links?.[0] as string));
    expect(line).toMatchObject({ to: message.to, subject: message.subject, level: 30 });
    expect(String(line?.msg)).toContain(message.to);

    expect(await dispatchCollection(t.app.ctx.database).findOne({ _id: id })).toMatchObject({ status: 'sent' });
    expect(await t.app.ctx.email.dispatcher.runOnce()).toBe(0);
    expect(readdirSync(dir)).toHaveLength(1);
  });
});
