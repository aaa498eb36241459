// @ts-check
/* global document, crypto, btoa, location, TextEncoder, HTMLFormElement, HTMLInputElement, HTMLAnchorElement */
/**
 * The sign-in page: POST /auth/login with PKCE, then the step the server answers (choose a
 * project with /auth/profile, enrol an authenticator app with /auth/mfa/login-enroll, or enter a
 * code with /auth/mfa/verify), then POST /oauth2/token. The tokens go to this tab's
 * sessionStorage; an administrator lands on /admin/project, anyone else on /account.
 */
import { ApiError, clearSession, loadSession, messageOf, request, safeNext, saveSession, sessionFromToken, url } from './api.js';
import { byId, byIdAs, el, query, showAlert } from './dom.js';

const alertBox = byId('alert');
const notice = byId('notice');
const signinForm = byIdAs('signin-form', HTMLFormElement);
const emailInput = byIdAs('email', HTMLInputElement);
const passwordInput = byIdAs('password', HTMLInputElement);
const chooseSection = byId('choose');
const membershipList = byId('memberships');
const enrollSection = byId('enroll');
const qrBox = byId('qr-box');
const secretText = byId('mfa-secret');
const mfaForm = byIdAs('mfa-form', HTMLFormElement);
const codeInput = byIdAs('code', HTMLInputElement);
const restart = byId('restart');
byIdAs('restart-link', HTMLAnchorElement).href = url('signin');

/** The sign-in in progress: its login id, PKCE verifier and which code step it is at. */
const state = { login: '', verifier: '', mfa: /** @type {'verify' | 'enroll'} */ ('verify') };

/** @param {Uint8Array} bytes */
function base64url(bytes) {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * A PKCE verifier and its challenge: S256 where the browser offers WebCrypto (https, localhost),
 * else the plain method (a page served over plain http has no WebCrypto).
 */
async function pkce() {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  if (crypto.subtle) {
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
    return { verifier, challenge: base64url(new Uint8Array(digest)), method: 'S256' };
  }
  return { verifier, challenge: verifier, method: 'plain' };
}

/** Shows one step of the sign-in, hides the others, and moves focus to it. @param {'signin' | 'choose' | 'enroll' | 'verify'} step */
function showStep(step) {
  signinForm.hidden = step !== 'signin';
  chooseSection.hidden = step !== 'choose';
  enrollSection.hidden = step !== 'enroll';
  mfaForm.hidden = step !== 'enroll' && step !== 'verify';
  restart.hidden = step === 'signin';
  if (step === 'choose') {
    membershipList.querySelector('button')?.focus();
  } else if (step === 'enroll' || step === 'verify') {
    codeInput.value = '';
    byId('mfa-intro').textContent =
      step === 'enroll' ? 'Then enter the 6-digit code your authenticator app shows for this account.' : 'Enter the 6-digit code from your authenticator app.';
    codeInput.focus();
  }
}

/** @param {unknown} err */
function fail(err) {
  showAlert(alertBox, messageOf(err));
  if (err instanceof ApiError && /sign in again/i.test(err.message)) {
    showStep('signin');
    passwordInput.focus();
  }
}

/** @param {boolean} busy */
function setBusy(busy) {
  for (const button of document.querySelectorAll('button')) {
    button.disabled = busy;
  }
}

/** Where to go once signed in. @param {any} me */
function landing(me) {
  const next = safeNext(query('next'));
  if (next) {
    return next;
  }
  return url(me?.membership?.admin ? 'admin/project' : 'account');
}

/** Exchanges the code for tokens, keeps them in this tab, and leaves for the landing page. @param {string} code */
async function finish(code) {
  const token = await request('oauth2/token', { form: { grant_type: 'authorization_code', code, code_verifier: state.verifier }, auth: false });
  saveSession(sessionFromToken(token));
  const me = await request('auth/me');
  location.replace(landing(me));
}

/** @param {any} choice */
function membershipButton(choice) {
  const project = choice?.project?.display || choice?.project?.reference || 'Project';
  const profile = choice?.profile?.display || String(choice?.profile?.reference ?? '').split('/')[0];
  const button = el('button', { type: 'button' }, project, ...(profile ? [el('span', { class: 'sub', text: `as ${profile}` })] : []));
  button.addEventListener('click', () => {
    void run(async () => next(await request('auth/profile', { json: { login: state.login, profile: String(choice.id) }, auth: false })));
  });
  return el('li', {}, button);
}

/** The otpauth URI's secret, for typing into an app by hand. @param {string} uri */
function secretOf(uri) {
  try {
    return new URL(uri).searchParams.get('secret') ?? '';
  } catch {
    return '';
  }
}

/**
 * Goes on with whatever the server answered: a code, a choice of project or an MFA step.
 * @param {any} answer
 */
async function next(answer) {
  state.login = String(answer?.login ?? state.login);
  if (typeof answer?.code === 'string') {
    await finish(answer.code);
  } else if (Array.isArray(answer?.memberships)) {
    membershipList.replaceChildren(...answer.memberships.map(membershipButton));
    showStep('choose');
  } else if (answer?.mfaEnrollRequired) {
    state.mfa = 'enroll';
    qrBox.replaceChildren(el('img', { src: String(answer.enrollQrCode), alt: 'QR code to scan with your authenticator app', width: '200', height: '200' }));
    secretText.textContent = secretOf(String(answer.enrollUri ?? ''));
    showStep('enroll');
  } else if (answer?.mfaRequired) {
    state.mfa = 'verify';
    showStep('verify');
  } else {
    throw new ApiError(500, [{ text: 'The server answered something this page does not understand. Try again.', expression: [] }], undefined);
  }
}

/** Runs one step with the buttons disabled and errors shown. @param {() => Promise<void>} step */
async function run(step) {
  showAlert(alertBox, []);
  setBusy(true);
  try {
    await step();
  } catch (err) {
    fail(err);
  } finally {
    setBusy(false);
  }
}

signinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const email = emailInput.value.trim();
  const password = passwordInput.value;
  if (!email || !password) {
    showAlert(alertBox, 'Enter your email address and your password.');
    (email ? passwordInput : emailInput).focus();
    return;
  }
  void run(async () => {
    const challenge = await pkce();
    state.verifier = challenge.verifier;
    const answer = await request('auth/login', {
      json: { email, password, codeChallenge: challenge.challenge, codeChallengeMethod: challenge.method, scope: 'openid' },
      auth: false,
    });
    passwordInput.value = '';
    await next(answer);
  });
});

mfaForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const token = codeInput.value.replace(/\s+/g, '');
  if (!/^\d{6}$/.test(token)) {
    showAlert(alertBox, 'Enter the 6 digits your authenticator app shows.');
    codeInput.focus();
    return;
  }
  void run(async () => {
    try {
      await next(await request(state.mfa === 'enroll' ? 'auth/mfa/login-enroll' : 'auth/mfa/verify', { json: { login: state.login, token }, auth: false }));
    } catch (err) {
      codeInput.value = '';
      codeInput.focus();
      throw err;
    }
  });
});

async function start() {
  if (query('signedout')) {
    notice.textContent = 'You are signed out.';
    notice.classList.add('ok');
  }
  if (loadSession()) {
    // Already signed in in this tab: go on, unless the session has ended meanwhile.
    try {
      location.replace(landing(await request('auth/me')));
      return;
    } catch {
      clearSession();
    }
  }
  emailInput.focus();
}

void start();
