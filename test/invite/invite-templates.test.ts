import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Project } from '@medplum/fhirtypes';
import { escapeHtml } from '../../src/html';
import { fillPlaceholders, findTemplatesDir, loadInviteTemplates, renderInviteEmail } from '../../src/invite/invite-templates';

const project: Project = { resourceType: 'Project', name: 'Acme & <Sons>' };
const values = { projectName: 'Acme & <Sons>', firstName: 'Ann"', lastName: "O'Hara", email: 'ann@example.com', link: 'http://x/setpassword/a/b?c=1&d=2', expiresAt: '2026-01-22 12:00 UTC' };

describe('invite email templates', () => {
  test('the shipped templates load from the package (both kinds, subject, text and HTML)', () => {
    const templates = loadInviteTemplates(findTemplatesDir());
    for (const kind of ['invite-new-user', 'invite-existing-user'] as const) {
      expect(templates[kind].subject).toContain('{{projectName}}');
      expect(templates[kind].text).toContain('{{link}}');
      expect(templates[kind].html).toContain('href="{{link}}"');
    }
  });

  test('a template without its Subject line is refused at start', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fis-templates-'));
    for (const kind of ['invite-new-user', 'invite-existing-user']) {
      writeFileSync(join(dir, `${kind}.txt`), 'no subject here');
      writeFileSync(join(dir, `${kind}.html`), '<p></p>');
    }
    expect(() => loadInviteTemplates(dir)).toThrow(/must start with "Subject: ..."/);
  });

  test('HTML escaping covers the five special characters', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  test('placeholders are filled, unknown ones become empty, spaces inside braces are allowed', () => {
    expect(fillPlaceholders('Hi {{ firstName }} {{nope}}!', { firstName: 'Ann' })).toBe('Hi Ann !');
  });

  test('every value is escaped in the HTML body but not in the text body; the subject has no line breaks', () => {
    const templates = loadInviteTemplates();
    const mail = renderInviteEmail(templates, 'invite-new-user', project, values);
    expect(mail.subject).toBe('You are invited to Acme & <Sons>');
    expect(mail.text).toContain('Hello Ann" O\'Hara');
    expect(mail.html).toContain('Acme &amp; &lt;Sons&gt;');
    expect(mail.html).toContain('href="http://x/setpassword/a/b?c=1&amp;d=2"');
    expect(mail.html).not.toContain('<Sons>');
    const injected = renderInviteEmail(templates, 'invite-new-user', { ...project, setting: [{ name: 'inviteEmailSubject', valueString: 'Hi {{firstName}}' }] }, { ...values, firstName: 'A\r\nBcc: evil@example.com' });
    expect(injected.subject).toBe('Hi A Bcc: evil@example.com');
  });

  test('project settings override per part; a blank setting is ignored', () => {
    const templates = loadInviteTemplates();
    const onlyHtml = renderInviteEmail(templates, 'invite-existing-user', { ...project, setting: [{ name: 'inviteExistingUserEmailHtml', valueString: '<b>{{projectName}}</b>' }] }, values);
    expect(onlyHtml.html).toBe('<b>Acme &amp; &lt;Sons&gt;</b>');
    expect(onlyHtml.text).toContain('You were added to Acme & <Sons>');
    const blank = renderInviteEmail(templates, 'invite-new-user', { ...project, setting: [{ name: 'inviteEmailText', valueString: '  ' }] }, values);
    expect(blank.text).toContain('You were invited to');
    expect(blank.html).toBeDefined();
  });

  test('an override that renders to nothing falls back to the default', () => {
    const templates = loadInviteTemplates();
    const settings = [
      { name: 'inviteEmailSubject', valueString: '{{unknown}}' },
      { name: 'inviteEmailText', valueString: '{{unknown}}' },
    ];
    const mail = renderInviteEmail(templates, 'invite-new-user', { ...project, setting: settings }, values);
    expect(mail.subject).toBe('You are invited to Acme & <Sons>');
    expect(mail.text).toContain('You were invited to Acme & <Sons>');
  });
});
