import type { ParsedMail } from 'mailparser';
import { TestClock } from '../helpers/app';
import { axe, describeBrowser, horizontalOverflow, openPage, screenshot, useBrowser } from '../helpers/browser';
import { createProject } from '../helpers/fixtures';
import { useSignIn, useTestApp } from '../helpers/suite';
import { postInvite } from '../helpers/invite';
import { mailsTo } from '../helpers/invite';

/**
 * The welcome email is the first page of the journey: it names the project and who invited
 * the person, says what comes next (an authenticator app when MFA is required), shows when the
 * link expires, and its HTML reads on a 390 px phone (rendered in Chromium) as its text does.
 */
describeBrowser('the welcome email', () => {
  // Activation links live 7 days: from this clock, they expire on Thursday 22 January 2026, noon UTC.
  const clock = new TestClock(new Date('2026-01-15T12:00:00.000Z'));
  const t = useTestApp({ clock, smtp: true });
  const admin = useSignIn(t);
  const b = useBrowser();

  async function invite(projectName: string, email: string, fields: Record<string, unknown> = {}): Promise<ParsedMail> {
    const project = await createProject(t.app, { name: projectName });
    const res = await postInvite(t.app, admin.headers, project.id, { resourceType: 'Practitioner', firstName: 'Ada', lastName: 'Quillfeather', email, ...fields });
    expect(res.statusCode).toBe(201);
    return (await mailsTo(t.smtp, email))[0];
  }

  /** Renders the mail's HTML at a phone's width: no sideways scrolling, no serious accessibility problem. */
  async function renderAtPhoneWidth(mail: ParsedMail, name: string): Promise<string> {
    const { page, context } = await openPage(b.browser, 390);
    try {
      await page.setContent(mail.html as string);
      const { scrollWidth, innerWidth } = await horizontalOverflow(page);
      expect(scrollWidth).toBeLessThanOrEqual(innerWidth);
      expect(await axe(page)).toEqual([]);
      // The button is big enough to tap and leads to the activation link.
      const box = await page.getByRole('link', { name: /Set your password|Sign in/ }).boundingBox();
      expect(box?.height).toBeGreaterThanOrEqual(40);
      await screenshot(page, name);
      return (await page.textContent('body')) ?? '';
    } finally {
      await context.close();
    }
  }

  test('MFA required: project, inviter, next steps with the authenticator apps, expiry; HTML fits a phone', async () => {
    const mail = await invite('Harbour Clinic', 'ada.mfa@example.com', { mfaRequired: true });
    expect(mail.subject).toBe('You are invited to Harbour Clinic');
    const text = mail.text as string;
    expect(text).toContain('You were invited to Harbour Clinic by Super Admin.');
    expect(text).toMatch(/1\. Open this link and choose a password:\n\s+http:\/\/localhost:8103\/setpassword\//);
    expect(text).toContain('2. Sign in with your email address (ada.mfa@example.com) and that password.');
    expect(text.replace(/\s+/g, ' ')).toContain('set up an authenticator app on your phone, such as Google Authenticator, Microsoft Authenticator or Authy');
    expect(text).toContain('expires on Thursday, 22 January 2026 at 12:00 UTC.');
    expect(text).toContain('If it has expired, ask Super Admin for a new one.');
    // Plain text that reads in a narrow mail client: short lines, except the link itself.
    for (const line of text.split('\n').filter((l) => !l.includes('http'))) {
      expect(line.length).toBeLessThanOrEqual(80);
    }
    expect(text).not.toMatch(/\{\{|\}\}/);

    const shown = (await renderAtPhoneWidth(mail, 'welcome-email-mfa-390')).replace(/\s+/g, ' ');
    expect(shown).toContain('You were invited to Harbour Clinic by Super Admin.');
    expect(shown).toContain('Google Authenticator, Microsoft Authenticator or Authy');
    expect(shown).toContain('expires on Thursday, 22 January 2026 at 12:00 UTC.');
    expect(mail.html).toMatch(/href="http:\/\/localhost:8103\/setpassword\/[A-Za-z0-9_-]+\/[A-Za-z0-9_-]+"/);
    expect(mail.html).not.toMatch(/\{\{|\}\}/);
  });

  test('MFA not required: no authenticator step', async () => {
    const mail = await invite('Quiet Clinic', 'ada.plain@example.com');
    expect(mail.text).toContain('You were invited to Quiet Clinic by Super Admin.');
    expect(mail.text).not.toMatch(/authenticator/i);
    expect(mail.text).toMatch(/and that password\.\n\nThe link works once/);
    expect(mail.html).not.toMatch(/authenticator/i);
    await renderAtPhoneWidth(mail, 'welcome-email-390');
  });

  test('an existing account added to another project: project, inviter, the sign-in link, the MFA note', async () => {
    await invite('First Clinic', 'ada.twice@example.com');
    const [first] = await mailsTo(t.smtp, 'ada.twice@example.com');
    const [, id, secret] = /\/setpassword\/([A-Za-z0-9_-]+)\/([A-Za-z0-9_-]+)/.exec(first.text as string) as RegExpExecArray;
    expect((await t.app.inject({ method: 'POST', url: '/auth/setpassword', payload: { id, secret, password: 'an activated account 42' } })).statusCode).toBe(200);
    const project = await createProject(t.app, { name: 'Second Clinic' });
    const res = await postInvite(t.app, admin.headers, project.id, { resourceType: 'Practitioner', firstName: 'Ada', lastName: 'Quillfeather', email: 'ada.twice@example.com', mfaRequired: true });
    expect(res.statusCode).toBe(201);
    const added = (await mailsTo(t.smtp, 'ada.twice@example.com', 2))[1];
    expect(added.subject).toBe('You were added to Second Clinic');
    expect(added.text).toContain('You were added to Second Clinic by Super Admin.');
    expect(added.text).toContain('You can sign in here: http://localhost:8103/signin');
    expect((added.text as string).replace(/\s+/g, ' ')).toContain('Google Authenticator, Microsoft Authenticator or Authy');
    const shown = await renderAtPhoneWidth(added, 'added-email-390');
    expect(shown.replace(/\s+/g, ' ')).toContain('You were added to Second Clinic by Super Admin.');
  });
});
