import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Project } from '@medplum/fhirtypes';
import { escapeHtml } from '../html';
import { findPackagePath } from '../package-files';

/**
 * The invitation emails: text and HTML bodies from files in src/invite/templates/ (read once at
 * start, from the package root, so they are found from src and from dist), overridable per
 * project through Project.setting entries. `{{name}}` placeholders are replaced; in the HTML body
 * every value is HTML-escaped, so a name can never inject markup.
 */

export type InviteEmailKind = 'invite-new-user' | 'invite-existing-user';

export interface EmailTemplate {
  subject: string;
  text: string;
  html: string;
}

export type InviteTemplates = Record<InviteEmailKind, EmailTemplate>;

export interface RenderedEmail {
  subject: string;
  text: string;
  html?: string;
}

/** Project.setting names that override a template, per email kind. */
export const TEMPLATE_SETTINGS: Record<InviteEmailKind, { subject: string; text: string; html: string }> = {
  'invite-new-user': { subject: 'inviteEmailSubject', text: 'inviteEmailText', html: 'inviteEmailHtml' },
  'invite-existing-user': { subject: 'inviteExistingUserEmailSubject', text: 'inviteExistingUserEmailText', html: 'inviteExistingUserEmailHtml' },
};

const KINDS: InviteEmailKind[] = ['invite-new-user', 'invite-existing-user'];

/** The templates folder of this package, found from here whether running from src or dist. */
export function findTemplatesDir(from: string = __dirname): string {
  return findPackagePath(join('src', 'invite', 'templates'), from);
}

/** A text template starts with a `Subject: ...` line and a blank line. */
function parseText(kind: string, source: string): { subject: string; text: string } {
  const match = /^Subject: *(.*)\r?\n\r?\n([\s\S]*)$/.exec(source);
  if (!match) {
    throw new Error(`Email template ${kind}.txt must start with "Subject: ..." and a blank line`);
  }
  return { subject: match[1].trim(), text: match[2] };
}

/** Reads every template; throws at start when one is missing or malformed. */
export function loadInviteTemplates(dir: string = findTemplatesDir()): InviteTemplates {
  const result = {} as InviteTemplates;
  for (const kind of KINDS) {
    const { subject, text } = parseText(kind, readFileSync(join(dir, `${kind}.txt`), 'utf8'));
    const html = readFileSync(join(dir, `${kind}.html`), 'utf8');
    result[kind] = { subject, text, html };
  }
  return result;
}

/**
 * Replaces `{{name}}` placeholders; unknown names become empty. A section
 * `{{#name}}...{{/name}}` is kept (its placeholders filled) when the value is not empty, and
 * dropped whole otherwise (sections do not nest).
 */
export function fillPlaceholders(template: string, values: Record<string, string>, escape: (v: string) => string = (v) => v): string {
  const sections = template.replace(/\{\{#\s*([A-Za-z]+)\s*\}\}([\s\S]*?)\{\{\/\s*\1\s*\}\}/g, (_m, key: string, body: string) => (values[key] ? body : ''));
  return sections.replace(/\{\{\s*([A-Za-z]+)\s*\}\}/g, (_m, key: string) => escape(values[key] ?? ''));
}

function setting(project: Project, name: string): string | undefined {
  const value = project.setting?.find((s) => s.name === name)?.valueString;
  return value && value.trim() !== '' ? value : undefined;
}

/**
 * The email of a kind for a project. A project may override the subject, the text and the HTML
 * separately; when it overrides the text but not the HTML, no HTML part is sent (the default
 * HTML would say something else).
 */
export function renderInviteEmail(templates: InviteTemplates, kind: InviteEmailKind, project: Project, values: Record<string, string>): RenderedEmail {
  const names = TEMPLATE_SETTINGS[kind];
  const base = templates[kind];
  const textOverride = setting(project, names.text);
  const htmlOverride = setting(project, names.html);
  const oneLine = (template: string): string => fillPlaceholders(template, values).replace(/[\r\n]+/g, ' ').trim();
  // An override that renders to nothing (e.g. only unknown placeholders) falls back to the default.
  const subject = oneLine(setting(project, names.subject) ?? base.subject) || oneLine(base.subject);
  const filledText = fillPlaceholders(textOverride ?? base.text, values);
  const text = filledText.trim() ? filledText : fillPlaceholders(base.text, values);
  const htmlSource = htmlOverride ?? (textOverride ? undefined : base.html);
  const html = htmlSource === undefined ? undefined : fillPlaceholders(htmlSource, values, escapeHtml);
  return html === undefined ? { subject, text } : { subject, text, html };
}
