import { createHash } from 'node:crypto';
import { escapeHtml } from '../html';

/**
 * The page an activation link opens: a plain form that POSTs JSON to /auth/setpassword through
 * a small inline script (allowed by its hash in the CSP) and shows the outcome. No framework,
 * no external resource; every value placed in the page is escaped.
 */

/** The CSP source for an inline script or style: `'sha256-...'` of its exact text. */
function cspHash(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

const STYLE = `
:root { color-scheme: light dark; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
*, *::before, *::after { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center; padding: 1rem; background: #f3f4f6; color: #111827; overflow-wrap: break-word; }
main { width: 100%; max-width: 26rem; background: #fff; border-radius: 12px; padding: 2rem; box-shadow: 0 4px 24px rgba(0,0,0,.08); }
@media (max-width: 480px) { body { padding: .75rem; } main { padding: 1.25rem; } }
h1 { font-size: 1.4rem; margin: 0 0 .5rem; }
p { line-height: 1.45; }
label { display: block; font-weight: 600; margin: 1rem 0 .3rem; }
input[type=password] { box-sizing: border-box; width: 100%; padding: .6rem .7rem; font-size: 1rem; border: 1px solid #9ca3af; border-radius: 8px; }
button { margin-top: 1.3rem; width: 100%; padding: .7rem; font-size: 1rem; font-weight: 600; color: #fff; background: #2563eb; border: 0; border-radius: 8px; cursor: pointer; }
button:disabled { opacity: .6; cursor: wait; }
.hint { color: #4b5563; font-size: .9rem; margin: .3rem 0 0; }
.error { color: #b91c1c; }
.ok { color: #047857; }
.signin { display: block; margin-top: 1rem; padding: .7rem; text-align: center; font-weight: 600; color: #fff; background: #2563eb; border-radius: 8px; text-decoration: none; }
@media (prefers-color-scheme: dark) {
  body { background: #111827; color: #f9fafb; } main { background: #1f2937; } .hint { color: #d1d5db; }
  input[type=password] { background: #111827; color: #f9fafb; } .error { color: #fca5a5; } .ok { color: #6ee7b7; }
}
`;

const SCRIPT = `
(function () {
  var form = document.getElementById('setpassword');
  var message = document.getElementById('message');
  if (!form) { return; }
  var button = form.querySelector('button');
  function show(text, ok) { message.textContent = text; message.className = ok ? 'ok' : 'error'; }
  function problemText(body) {
    var issue = body && body.issue && body.issue[0];
    return (issue && ((issue.details && issue.details.text) || issue.diagnostics)) || 'The password could not be set. Try again.';
  }
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var password = form.elements.namedItem('password').value;
    if (password !== form.elements.namedItem('confirm').value) { show('The two passwords are not the same.', false); return; }
    button.disabled = true;
    show('Saving...', true);
    fetch(form.getAttribute('action'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      credentials: 'omit',
      cache: 'no-store',
      body: JSON.stringify({ id: form.elements.namedItem('id').value, secret: form.elements.namedItem('secret').value, password: password })
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (body) {
        if (res.ok) {
          form.remove();
          show('Your password is set. You can now sign in with your email address and this password.', true);
          var signin = document.getElementById('signin');
          signin.hidden = false;
          signin.querySelector('a').focus();
        } else {
          show(problemText(body), false);
          button.disabled = false;
        }
      });
    }).catch(function () {
      show('The server could not be reached. Check your connection and try again.', false);
      button.disabled = false;
    });
  });
})();
`;

/** The Content-Security-Policy of the page: only its own inline script and style, fetch to self. */
export const SETPASSWORD_PAGE_CSP = [
  "default-src 'none'",
  `script-src ${cspHash(SCRIPT)}`,
  `style-src ${cspHash(STYLE)}`,
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

export interface SetPasswordPageInput {
  id: string;
  secret: string;
  /** Where the form posts (the path of `{BASE_URL}auth/setpassword`). */
  action: string;
  /** The account's email, shown and offered to password managers. */
  email?: string;
  /** Why the link cannot be used: the page then shows this instead of the form. */
  problem?: string;
  /** The sign-in page the success message links to (default: `signin` beside the action's `auth/`). */
  signin?: string;
}

function signinPath(input: SetPasswordPageInput): string {
  return input.signin ?? `${input.action.replace(/auth\/setpassword$/, '')}signin`;
}

function form(input: SetPasswordPageInput): string {
  const email = input.email ? escapeHtml(input.email) : '';
  return `
<p>${email ? `Choose a password for <strong>${email}</strong>.` : 'Choose a password for your account.'}</p>
<form id="setpassword" method="post" action="${escapeHtml(input.action)}">
  <input type="hidden" name="id" value="${escapeHtml(input.id)}">
  <input type="hidden" name="secret" value="${escapeHtml(input.secret)}">
  ${email ? `<input type="email" name="username" autocomplete="username" value="${email}" hidden readonly>` : ''}
  <label for="password">New password</label>
  <input id="password" name="password" type="password" autocomplete="new-password" minlength="8" required autofocus>
  <p class="hint">At least 8 characters; avoid common passwords. A few words you will remember work well.</p>
  <label for="confirm">Repeat the password</label>
  <input id="confirm" name="confirm" type="password" autocomplete="new-password" minlength="8" required>
  <button type="submit">Set password</button>
</form>
<p id="message" role="status" aria-live="polite"></p>
<p id="signin" hidden><a class="signin" href="${escapeHtml(signinPath(input))}">Sign in</a></p>`;
}

export function renderSetPasswordPage(input: SetPasswordPageInput): string {
  const body = input.problem ? `<p id="message" class="error" role="alert">${escapeHtml(input.problem)}</p>` : form(input);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex">
<title>Set your password</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>Set your password</h1>
${body}
</main>
${input.problem ? '' : `<script>${SCRIPT}</script>`}
</body>
</html>
`;
}
