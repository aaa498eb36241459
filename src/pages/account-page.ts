import { renderPage } from './layout';

/** GET /account: who and where a signed-in member is (assets/account.js fills it in); "Sign out" is in the top bar. */
const MAIN = `
<div class="card">
<h1>Your account</h1>
<div id="alert" class="alert" role="alert" hidden></div>
<p id="loading" class="notice" role="status">Loading…</p>
<dl id="details" class="details" hidden>
  <dt>Signed in as</dt><dd id="who"></dd>
  <dt>Email</dt><dd id="email"></dd>
  <dt>Project</dt><dd id="project"></dd>
  <dt>Profile</dt><dd id="profile-type"></dd>
</dl>
<p class="hint">To leave, use “Sign out” at the top of the page: it ends this sign-in on the server, not only in this browser.</p>
</div>`;

export function renderAccountPage(basePath: string): string {
  return renderPage({ title: 'Your account', script: 'account.js', basePath, main: MAIN });
}
