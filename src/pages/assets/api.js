// @ts-check
/* global document, location, sessionStorage */
/**
 * What every page shares to talk to the server: the session (tokens in this tab's
 * sessionStorage, never a cookie), the API helper (bearer token, one refresh at a time,
 * OperationOutcome messages), sign-in redirects and "Sign out". Plain ES module, served as is.
 */

const SESSION_KEY = 'fis.session';

/** The browser-facing path prefix of the server (BASE_URL's path), from the page's meta tag. */
export const basePath = document.querySelector('meta[name="base-path"]')?.getAttribute('content') || '/';

/**
 * A path under the server's base path.
 * @param {string} path e.g. 'auth/login'
 */
export function url(path) {
  return basePath + path.replace(/^\/+/, '');
}

/** @typedef {{ accessToken: string, refreshToken?: string, expiresAt: number }} Session */

/** @returns {Session | undefined} */
export function loadSession() {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    const value = raw ? JSON.parse(raw) : undefined;
    return value && typeof value.accessToken === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** @param {Session} session */
export function saveSession(session) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

export function clearSession() {
  sessionStorage.removeItem(SESSION_KEY);
}

/**
 * The session from a /oauth2/token answer.
 * @param {{ access_token: string, refresh_token?: string, expires_in?: number }} token
 * @returns {Session}
 */
export function sessionFromToken(token) {
  return { accessToken: token.access_token, refreshToken: token.refresh_token, expiresAt: Date.now() + (token.expires_in ?? 3600) * 1000 };
}

/** @typedef {{ text: string, expression: string[] }} Problem */

/** An API answer that is not 2xx: its status, its OperationOutcome issues (or OAuth error) and Retry-After. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {Problem[]} problems
   * @param {number | undefined} retryAfter seconds
   */
  constructor(status, problems, retryAfter) {
    super(problems[0]?.text || `The server answered ${status}`);
    this.status = status;
    this.problems = problems;
    this.retryAfter = retryAfter;
  }
}

/**
 * The problems an error body describes: OperationOutcome issues, or an OAuth error.
 * @param {any} body
 * @returns {Problem[]}
 */
export function problemsOf(body) {
  if (body && body.resourceType === 'OperationOutcome' && Array.isArray(body.issue)) {
    return body.issue.map((/** @type {any} */ issue) => ({
      text: String(issue?.details?.text || issue?.diagnostics || 'The request was refused'),
      expression: Array.isArray(issue?.expression) ? issue.expression.map(String) : [],
    }));
  }
  if (body && typeof body.error === 'string') {
    return [{ text: String(body.error_description || body.error), expression: [] }];
  }
  return [];
}

/** One message a person can act on, for any error a page meets. @param {unknown} err */
export function messageOf(err) {
  if (err instanceof ApiError) {
    return err.message;
  }
  return 'The server could not be reached. Check your connection and try again.';
}

/**
 * A message, ended as a sentence, followed by more advice.
 * @param {string} message @param {string} more
 */
export function withAdvice(message, more) {
  return `${message.trim().replace(/[^.!?]$/, (c) => `${c}.`)} ${more}`;
}

/**
 * What to say when an error answer carries no message of its own.
 * @param {number} status @param {number | undefined} retryAfter
 */
function fallbackMessage(status, retryAfter) {
  if (status === 429) {
    return `Too many attempts. Try again in ${retryAfter ?? 60} seconds.`;
  }
  if (status >= 500) {
    return 'The server could not do this right now. Try again in a moment.';
  }
  return `The server refused this (${status}).`;
}

/** @type {Promise<Session | undefined> | undefined} */
let refreshing;

/**
 * Exchanges the refresh token for new tokens, one exchange at a time (a refresh token presented
 * twice ends the whole sign-in on the server).
 * @returns {Promise<Session | undefined>}
 */
function refreshSession() {
  const session = loadSession();
  if (!session?.refreshToken) {
    return Promise.resolve(undefined);
  }
  const refreshToken = session.refreshToken;
  refreshing ??= (async () => {
    try {
      const token = await request('oauth2/token', { form: { grant_type: 'refresh_token', refresh_token: refreshToken }, auth: false });
      const next = sessionFromToken(token);
      saveSession(next);
      return next;
    } catch {
      return undefined;
    } finally {
      refreshing = undefined;
    }
  })();
  return refreshing;
}

/**
 * @typedef {{ method?: string, json?: unknown, form?: Record<string, string>, auth?: boolean }} RequestOptions
 */

/**
 * @param {string} path
 * @param {RequestOptions} options
 * @param {Session | undefined} session
 */
async function send(path, options, session) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/fhir+json, application/json' };
  /** @type {string | undefined} */
  let body;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/fhir+json';
    body = JSON.stringify(options.json);
  } else if (options.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(options.form).toString();
  }
  if (session) {
    headers.authorization = `Bearer ${session.accessToken}`;
  }
  return fetch(url(path), { method: options.method ?? (body === undefined ? 'GET' : 'POST'), headers, body, credentials: 'omit', cache: 'no-store' });
}

/**
 * Calls the API and answers the JSON body; throws ApiError for a non-2xx answer. With `auth`
 * (the default) the bearer token is sent and refreshed once when it expired.
 * @param {string} path
 * @param {RequestOptions} [options]
 * @returns {Promise<any>}
 */
export async function request(path, options = {}) {
  const auth = options.auth !== false;
  let session = auth ? loadSession() : undefined;
  if (auth && session && session.expiresAt - 30_000 < Date.now()) {
    session = (await refreshSession()) ?? session;
  }
  let res = await send(path, options, session);
  if (auth && res.status === 401 && session?.refreshToken) {
    const renewed = await refreshSession();
    if (renewed) {
      res = await send(path, options, renewed);
    }
  }
  const text = await res.text();
  /** @type {any} */
  let body;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!res.ok && auth && res.status === 401 && session) {
    // The sign-in ended (signed out elsewhere, expired, revoked): sign in again, then come back.
    clearSession();
    goToSignin();
  }
  if (!res.ok) {
    const header = Number(res.headers.get('retry-after'));
    const retryAfter = Number.isFinite(header) && header > 0 ? header : undefined;
    const problems = problemsOf(body);
    throw new ApiError(res.status, problems.length > 0 ? problems : [{ text: fallbackMessage(res.status, retryAfter), expression: [] }], retryAfter);
  }
  return body;
}

/**
 * Only a path of this site (not `//host`, not a URL) may be a place to go after signing in.
 * @param {string | null} next
 * @returns {string | undefined}
 */
export function safeNext(next) {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.includes('\\') || [...next].some((c) => c.charCodeAt(0) < 0x20)) {
    return undefined;
  }
  return next;
}

/** Sends the browser to the sign-in page, to come back here afterwards. */
export function goToSignin() {
  const here = location.pathname + location.search + location.hash;
  location.replace(`${url('signin')}?next=${encodeURIComponent(here)}`);
}

/**
 * The signed-in person's details (GET /auth/me), or a trip to the sign-in page.
 * @returns {Promise<any>}
 */
export async function requireSignedIn() {
  if (!loadSession()) {
    goToSignin();
    return new Promise(() => undefined);
  }
  try {
    return await request('auth/me');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      clearSession();
      goToSignin();
      return new Promise(() => undefined);
    }
    throw err;
  }
}

/**
 * Ends the sign-in on the server (its tokens stop working), then in this tab.
 */
export async function signOut() {
  const session = loadSession();
  if (session) {
    try {
      const res = await send('auth/logout', { method: 'POST', json: {} }, session);
      // An expired access token cannot sign out: renew it once, so the sign-in really ends.
      const renewed = res.status === 401 ? await refreshSession() : undefined;
      if (renewed) {
        await send('auth/logout', { method: 'POST', json: {} }, renewed);
      }
    } catch {
      // Unreachable: the tab forgets the tokens either way.
    }
  }
  clearSession();
  location.assign(`${url('signin')}?signedout=1`);
}
