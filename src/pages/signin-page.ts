import { renderPage } from './layout';

/**
 * GET /signin: email and password, then whatever the sign-in answers next (a choice of
 * project, MFA enrolment with the QR code and the secret, or a code), each step a section the
 * script (assets/signin.js) shows in turn. Every field has a visible label. The fields have no
 * `name` and the forms post: should the script not run, submitting sends no password anywhere,
 * least of all into a URL.
 */
const MAIN = `
<div class="card">
<h1 id="title">Sign in</h1>
<p id="notice" class="notice" role="status"></p>
<div id="alert" class="alert" role="alert" hidden></div>

<form id="signin-form" class="stack" method="post" novalidate>
  <div class="field">
    <label for="email">Email</label>
    <input id="email" type="email" autocomplete="username" required aria-required="true" spellcheck="false" autocapitalize="none">
  </div>
  <div class="field">
    <label for="password">Password</label>
    <input id="password" type="password" autocomplete="current-password" required aria-required="true">
  </div>
  <button type="submit" class="primary">Sign in</button>
</form>

<section id="choose" class="stack" hidden aria-labelledby="choose-title">
  <h2 id="choose-title">Choose a project</h2>
  <p>Your account is a member of several projects. Which one do you want to work in?</p>
  <ul id="memberships" class="choices"></ul>
</section>

<section id="enroll" class="stack" hidden aria-labelledby="enroll-title">
  <h2 id="enroll-title">Set up your authenticator app</h2>
  <p>This account needs a second step at every sign-in: a 6-digit code from an authenticator app
  (such as Google Authenticator, Microsoft Authenticator or Authy) on your phone.</p>
  <ol class="steps">
    <li>In the app, add an account and scan this QR code.</li>
    <li>Enter the 6-digit code the app then shows.</li>
  </ol>
  <div id="qr-box" class="qr"></div>
  <p>Cannot scan? Enter this key in the app instead:</p>
  <p><code id="mfa-secret" class="secret"></code></p>
</section>

<form id="mfa-form" class="stack" method="post" hidden novalidate>
  <p id="mfa-intro">Enter the 6-digit code from your authenticator app.</p>
  <div class="field">
    <label for="code">Code</label>
    <input id="code" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="10" required aria-required="true" aria-describedby="code-hint">
    <p id="code-hint" class="hint">The code changes every 30 seconds.</p>
  </div>
  <button type="submit" class="primary">Verify</button>
</form>

<p id="restart" hidden><a href="" id="restart-link">Start again</a></p>
</div>`;

export function renderSigninPage(basePath: string): string {
  return renderPage({ title: 'Sign in', script: 'signin.js', basePath, main: MAIN });
}
