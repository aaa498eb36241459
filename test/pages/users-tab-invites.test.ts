import { describeBrowser, openPage, screenshot, signInThroughPage, useBrowser, useListeningApp, type TestPage } from '../helpers/browser';
import { createProjectAdmin, type ProjectAdmin } from '../helpers/fhir';
import { mailsTo, uniqueEmail } from '../helpers/invite';
import { inviteByMail, linkIn, setPassword } from '../helpers/lifecycle';

/**
 * The Users tab and the invite lifecycle, in Chromium: a pending member shows "Pending" with
 * "Resend invite" (a new mail reaches the real SMTP server, the old link dies) and "Revoke"
 * (the row then reads "Revoked" without buttons); an accepted member shows "Accepted" and no
 * buttons.
 */
describeBrowser('Users tab: invite status, Resend invite and Revoke', () => {
  const t = useListeningApp({ smtp: true });
  const b = useBrowser();
  const adminEmail = uniqueEmail('tab-admin');
  const PASSWORD = 'users-tab-admin-password';
  let admin: ProjectAdmin;
  let tab: TestPage | undefined;

  beforeAll(async () => {
    admin = await createProjectAdmin(t.app, 'Seaside Clinic', adminEmail, PASSWORD);
  });
  afterAll(async () => {
    await tab?.context.close();
  });

  const page = () => (tab as TestPage).page;

  /** The cells of a member's row, by column label. */
  async function rowOf(email: string): Promise<{ cells: Record<string, string>; buttons: string[] }> {
    const row = page().locator('#members tr', { hasText: email });
    await row.waitFor();
    const cells = Object.fromEntries(
      await Promise.all((await row.locator('td').all()).map(async (cell) => [await cell.getAttribute('data-label'), ((await cell.textContent()) ?? '').trim()])),
    ) as Record<string, string>;
    const buttons = await row.getByRole('button').allTextContents();
    return { cells, buttons };
  }

  test('pending: Resend invite mails a new link (the old one dies); Revoke leaves "Revoked" and no buttons; accepted: no buttons', async () => {
    const pendingEmail = uniqueEmail('pending-person');
    const acceptedEmail = uniqueEmail('accepted-person');
    const pending = await inviteByMail(t.app, t.smtp, admin.session.headers, admin.projectId, pendingEmail);
    const accepted = await inviteByMail(t.app, t.smtp, admin.session.headers, admin.projectId, acceptedEmail);
    expect((await setPassword(t.app, accepted.link)).statusCode).toBe(200);

    const opened = await openPage(b.browser, 1280);
    tab = opened;
    await signInThroughPage(opened.page, t.base, adminEmail, PASSWORD);
    await page().getByRole('tab', { name: 'Users' }).click();

    expect(await rowOf(acceptedEmail)).toMatchObject({ cells: { 'Invite status': 'Accepted', Actions: '—' }, buttons: [] });
    expect(await rowOf(pendingEmail)).toMatchObject({ cells: { 'Invite status': 'Pending' }, buttons: ['Resend invite', 'Revoke'] });
    await screenshot(page(), 'users-tab-pending-1280');

    // Resend invite: a second mail with a new link; the first link no longer works.
    await page().locator('#members tr', { hasText: pendingEmail }).getByRole('button', { name: 'Resend invite' }).click();
    await page().getByText(`A new invitation was sent to ${pendingEmail}.`).waitFor();
    const mails = await mailsTo(t.smtp, pendingEmail, 2);
    const fresh = linkIn(mails[1].text as string);
    expect(fresh).not.toEqual(pending.link);
    expect((await setPassword(t.app, pending.link)).statusCode).toBe(400);

    // Revoke (after the confirmation): "Revoked", the buttons gone, the new link refused too.
    page().once('dialog', (dialog) => void dialog.accept());
    await page().locator('#members tr', { hasText: pendingEmail }).getByRole('button', { name: 'Revoke' }).click();
    await page().getByText(/invitation of .* was revoked/).waitFor();
    await page().locator('#members tr', { hasText: pendingEmail }).getByText('Revoked').waitFor();
    expect(await rowOf(pendingEmail)).toMatchObject({ cells: { 'Invite status': 'Revoked', Actions: '—' }, buttons: [] });
    expect((await setPassword(t.app, fresh)).statusCode).toBe(400);
    await screenshot(page(), 'users-tab-revoked-1280');
    expect((tab as TestPage).problems).toEqual({ csp: [], errors: [] });
  });
});
