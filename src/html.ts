/**
 * Escapes text for HTML element content and quoted attribute values: the one escaper of the
 * server, used by the mail templates and by the pages. `'` and `` ` `` become numeric references,
 * the others the usual named ones.
 */
const HTML_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => HTML_ESCAPES[c]);
}
