import type { FastifyReply } from 'fastify';

/**
 * The headers of every page this server renders (sign-in, account, admin): scripts, styles,
 * images and fetches only from this origin (images also as `data:` URLs, for the MFA QR code),
 * no inline script or style, no framing, no `<base>` rewriting, forms post only here, and no
 * Referer ever leaves a page (the activation page's URL carries a secret; the others gain
 * nothing from sending one).
 */
export const PAGE_CSP = [
  "default-src 'self'",
  "img-src 'self' data:",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': PAGE_CSP,
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
};

/** Sets the page headers on an HTML answer (never cached: a page may follow a sign-in or sign-out). */
export function sendPage(reply: FastifyReply, html: string, status = 200): FastifyReply {
  return reply.status(status).headers({ ...PAGE_HEADERS, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).send(html);
}
