import type { ParsedMail } from 'mailparser';
import { updateResource } from '../../src/fhir/repository';
import { TestClock } from '../helpers/app';
import { signIn } from '../helpers/auth';
import { useSignIn, useTestApp } from '../helpers/suite';
import { createProject, repo, uniqueEmail } from '../helpers/invite';
import { outputs, postInvite } from '../helpers/invite';

const LINK = /http:\/\/localhost:8103\/setpassword\/([A-Za-z0-9_-]+)\/([A-Za-z0-9_-]+)/;
const person = { resourceType: 'Practitioner', firstName: 'Mae', lastName: 'Jemison' };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('invite: email', () => {
  const clock = new TestClock();
  const t = useTestApp({ clock, smtp: true });
  const admin = useSignIn(t);

  /** The one mail that arrived for this address (waits for it). */
  async function mailTo(address: string, count = 1): Promise<ParsedMail[]> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const mails = t.smtp.messages.filter((m) => m.to && !Array.isArray(m.to) && m.to.text === address);
      if (mails.length >= count) {
        return mails;
      }
      if (Date.now() > deadline) {
        throw new Error(`expected ${count} mail(s) to ${address}, got ${mails.length}`);
      }
      await sleep(25);
    }
  }

  test('a new user gets a welcome with the project name and a working single-use activation link', async () => {
    const project = await createProject(t.app, { name: 'Apollo' });
    const email = uniqueEmail();
    const res = await postInvite(t.app, admin.headers, project.id, { ...person, email });
    expect(res.statusCode).toBe(201);
    expect(outputs(res)).toMatchObject({ emailStatus: 'queued' });
    expect(outputs(res).activationUrl).toBeUndefined();

    const [mail] = await mailTo(email);
    expect(mail.subject).toBe('You are invited to Apollo');
    expect(mail.text).toContain('You were invited to Apollo');
    const [url, id, secret] = LINK.exec(mail.text as string) as RegExpExecArray;
    expect(mail.html).toContain(`href="${url}"`);

    const password = 'a fresh and long password 42';
    const set = await t.app.inject({ method: 'POST', url: '/auth/setpassword', payload: { id, secret, password } });
    expect(set.statusCode).toBe(200);
    await expect(signIn(t.app, email, password, project.id)).resolves.toHaveProperty('accessToken');
    const again = await t.app.inject({ method: 'POST', url: '/auth/setpassword', payload: { id, secret, password: 'another long password 43' } });
    expect(again.statusCode).toBeGreaterThanOrEqual(400);
  });

  /** Opens the activation link of the mail to `address` and sets a password with it (verifies the email). */
  async function activateFromMail(address: string, password: string): Promise<void> {
    const [mail] = await mailTo(address);
    const [, id, secret] = LINK.exec(mail.text as string) as RegExpExecArray;
    const set = await t.app.inject({ method: 'POST', url: '/auth/setpassword', payload: { id, secret, password } });
    expect(set.statusCode).toBe(200);
  }

  test('an existing, activated user invited into another project gets "you were added" with the sign-in link', async () => {
    const first = await createProject(t.app, { name: 'Gemini' });
    const second = await createProject(t.app, { name: 'Mercury' });
    const email = uniqueEmail();
    const created = await postInvite(t.app, admin.headers, first.id, { ...person, email });
    expect(created.statusCode).toBe(201);
    await activateFromMail(email, 'chosen from the mail 7');
    const res = await postInvite(t.app, admin.headers, second.id, { ...person, email });
    expect(res.statusCode).toBe(201);
    const mails = await mailTo(email, 2);
    const added = mails[1];
    expect(added.subject).toBe('You were added to Mercury');
    expect(added.text).toContain('You can sign in here: http://localhost:8103/signin');
    expect(added.text).not.toMatch(LINK);
  });

  test('a user who never activated gets a fresh link on the next invite; the older link stops working', async () => {
    const [a, b] = [await createProject(t.app, { name: 'Skylab' }), await createProject(t.app, { name: 'Artemis' })];
    const email = uniqueEmail();
    await postInvite(t.app, admin.headers, a.id, { ...person, email });
    const [firstMail] = await mailTo(email);
    await postInvite(t.app, admin.headers, b.id, { ...person, email });
    const second = (await mailTo(email, 2))[1];
    expect(second.subject).toBe('You are invited to Artemis');
    const [, oldId, oldSecret] = LINK.exec(firstMail.text as string) as RegExpExecArray;
    const [, newId, newSecret] = LINK.exec(second.text as string) as RegExpExecArray;
    expect(newId).not.toBe(oldId);
    const stale = await t.app.inject({ method: 'POST', url: '/auth/setpassword', payload: { id: oldId, secret: oldSecret, password: 'a fresh and long password 44' } });
    expect(stale.statusCode).toBeGreaterThanOrEqual(400);
    const fresh = await t.app.inject({ method: 'POST', url: '/auth/setpassword', payload: { id: newId, secret: newSecret, password: 'a fresh and long password 45' } });
    expect(fresh.statusCode).toBe(200);
  });

  test('sendEmail false: no mail, and the activation link comes back to the caller', async () => {
    const project = await createProject(t.app);
    const email = uniqueEmail();
    const before = t.smtp.messages.length;
    const res = await postInvite(t.app, admin.headers, project.id, { ...person, email, sendEmail: false });
    expect(res.statusCode).toBe(201);
    expect(outputs(res).emailStatus).toBe('skipped');
    expect(outputs(res).activationUrl).toMatch(LINK);
    await sleep(400);
    expect(t.smtp.messages.length).toBe(before);
    expect(await t.app.ctx.database.db.collection('outbox').countDocuments({ 'message.to': email })).toBe(0);
  });

  test('names and project names cannot inject HTML', async () => {
    const project = await createProject(t.app, { name: 'Lab <script>alert(1)</script> & Co' });
    const email = uniqueEmail();
    await postInvite(t.app, admin.headers, project.id, { ...person, firstName: '<img src=x onerror=alert(2)>', email });
    const [mail] = await mailTo(email);
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).not.toContain('<img');
    expect(mail.html).toContain('Lab &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co');
    expect(mail.html).toContain('&lt;img src=x onerror=alert(2)&gt;');
    expect(mail.text).toContain('<img src=x onerror=alert(2)>');
  });

  test('a project can override the subject, text and HTML of its invitation', async () => {
    const project = await createProject(t.app, {
      name: 'Vostok',
      setting: [
        { name: 'inviteEmailSubject', valueString: 'Join {{projectName}}, {{firstName}}' },
        { name: 'inviteEmailText', valueString: 'Welcome aboard {{firstName}}! Start here: {{link}}' },
        { name: 'inviteEmailHtml', valueString: '<p>Welcome aboard {{firstName}}: <a href="{{link}}">start</a></p>' },
      ],
    });
    const email = uniqueEmail();
    await postInvite(t.app, admin.headers, project.id, { ...person, firstName: 'Yuri & <b>', email });
    const [mail] = await mailTo(email);
    expect(mail.subject).toBe('Join Vostok, Yuri & <b>');
    expect(mail.text).toMatch(/^Welcome aboard Yuri & <b>! Start here: http:\/\/localhost:8103\/setpassword\//);
    expect(mail.html).toMatch(/^<p>Welcome aboard Yuri &amp; &lt;b&gt;: <a href="http:\/\/localhost:8103\/setpassword\/[^"]+">start<\/a><\/p>/);

    // Overriding only the text drops the default HTML (it would say something else).
    await updateResource(repo(t.app), { ...project, setting: [{ name: 'inviteExistingUserEmailText', valueString: 'Also in {{projectName}} now' }] });
    const other = await createProject(t.app);
    const existing = uniqueEmail();
    await postInvite(t.app, admin.headers, other.id, { ...person, email: existing });
    await activateFromMail(existing, 'chosen from the mail 8');
    await postInvite(t.app, admin.headers, project.id, { ...person, email: existing });
    const added = (await mailTo(existing, 2))[1];
    expect(added.text?.trim()).toBe('Also in Vostok now');
    expect(added.html).toBe(false);
  });

  test('SMTP down during invites, then back: the invites succeed at once and every mail arrives exactly once', async () => {
    const project = await createProject(t.app, { name: 'Outage' });
    const emails = [uniqueEmail('a'), uniqueEmail('b'), uniqueEmail('c')];
    t.smtp.failing = true;
    const responses = await Promise.all(emails.map((email) => postInvite(t.app, admin.headers, project.id, { ...person, email })));
    expect(responses.map((r) => r.statusCode)).toEqual([201, 201, 201]);
    // Let the dispatcher try (and be refused) a few times while SMTP is down.
    await sleep(600);
    expect(t.smtp.messages.filter((m) => emails.includes((m.to as { text: string }).text))).toHaveLength(0);

    t.smtp.failing = false;
    // They were tried and are waiting for their retry: nothing arrives until it is due.
    await sleep(300);
    expect(t.smtp.messages.filter((m) => emails.includes((m.to as { text: string }).text))).toHaveLength(0);
    clock.advance(11 * 60_000);
    for (const email of emails) {
      await mailTo(email);
    }
    await sleep(300);
    clock.advance(60 * 60_000);
    await sleep(300);
    for (const email of emails) {
      expect(t.smtp.messages.filter((m) => (m.to as { text: string }).text === email)).toHaveLength(1);
    }
  });
});
