// What the benchmark and the profiler share: loading the built server, signing in, and the
// data the cases read (a Patient; a plain project member whose access comes from an AccessPolicy).
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const ADMIN_EMAIL = 'bench-admin@example.com';
export const ADMIN_PASSWORD = 'bench-password-1234';
export const MEMBER_EMAIL = 'bench-member@example.com';
export const MEMBER_PASSWORD = 'bench-member-Correct-Horse-9';

/** The built server (dist/) under `root`; BENCH_APP_ROOT points it at another build (before/after). */
export function loadDist(root) {
  const dist = join(process.env.BENCH_APP_ROOT ?? root, 'dist/src');
  return {
    buildApp: require(join(dist, 'app.js')).buildApp,
    loadConfig: require(join(dist, 'config.js')).loadConfig,
    startEmbeddedEngine: require(join(dist, 'db/embedded-engine.js')).startEmbeddedEngine,
    loggerOptions: require(join(dist, 'http/logger.js')).loggerOptions,
    ensureIndexes: (database) => require(join(dist, 'db/indexes.js')).ensureIndexes(database, require(join(dist, 'app.js')).indexSpecs()),
    passwordHash: require(join(dist, 'accounts/passwords.js')),
  };
}

export async function json(response) {
  const body = await response.json();
  if (!response.ok) {
    throw new Error(`${response.status} ${JSON.stringify(body)}`);
  }
  return body;
}

/** Password sign-in with PKCE (to `projectId` when given), then the code for tokens. */
export async function signIn(baseUrl, email, password, projectId) {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const login = await fetch(`${baseUrl}auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password, projectId, codeChallenge: challenge, codeChallengeMethod: 'S256', scope: 'openid' }),
  }).then(json);
  const token = await fetch(`${baseUrl}oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: login.code, code_verifier: verifier }).toString(),
  }).then(json);
  return { access: token.access_token, refresh: token.refresh_token, project: token.project.reference.split('/')[1] };
}

/**
 * The server's own logger configuration (main.ts uses it) at BENCH_LOG_LEVEL (default: info,
 * the server's default), written to /dev/null: the cost of every log line is measured, the
 * bench output stays readable. BENCH_LOG_LEVEL=off turns the logger off.
 */
export function benchLogger(dist, config) {
  const level = process.env.BENCH_LOG_LEVEL ?? 'info';
  if (level === 'off') {
    return false;
  }
  const pino = require('pino');
  return { ...dist.loggerOptions({ ...config, logLevel: level }), stream: pino.destination({ dest: process.env.BENCH_LOG_DEST ?? '/dev/null', sync: true }) };
}

/** The server's configuration in the benchmark (`env` overrides, e.g. rate limits on). */
export function benchConfig(dist, engineUri, dataDir, env = {}) {
  return dist.loadConfig({
    MONGODB_URI: engineUri, MONGODB_DATABASE: 'bench_app', ADMIN_EMAIL, ADMIN_PASSWORD,
    RATE_LIMIT: 'off', DATA_DIR: dataDir, OUTBOX_POLL_MS: '0',
    // The subscription case's receiver listens on loopback (the dispatcher runs at its default pace).
    SUBSCRIPTION_ALLOWED_HOSTS: '127.0.0.1',
    ...env,
  });
}

/**
 * Builds and starts the server under test in this process on `engineUri` (bench/profile.mjs and the
 * subscription case; the other cases run it in a process of its own, bench/child.mjs), then seeds it.
 */
export async function startServer(dist, engineUri, dataDir) {
  const config = benchConfig(dist, engineUri, dataDir);
  const app = await dist.buildApp(config, { embedded: true, logger: benchLogger(dist, config) });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${app.server.address().port}/`;
  return { app, base, ...(await seedServer(base)) };
}

/** A FHIR POST (or PUT) as `who`; answers the resource. */
export function fhirWrite(base, who, path, body, method = 'POST', extra = {}) {
  const headers = { authorization: `Bearer ${who.access}`, 'content-type': 'application/fhir+json', ...extra };
  return fetch(`${base}fhir/R4/${path}`, { method, headers, body: JSON.stringify(body) }).then(json);
}

/**
 * Over HTTP only: signs in the super administrator, creates a project with the Patient the read
 * cases fetch and a plain member (a Practitioner, not an administrator) whose access is an
 * AccessPolicy granting Patient read-only, signed in.
 */
export async function seedServer(base) {
  const admin = await signIn(base, ADMIN_EMAIL, ADMIN_PASSWORD);
  const post = (path, body) => fhirWrite(base, admin, path, body);
  // A project of its own: members of the administrator's project are super administrators.
  const project = await post('Project', { resourceType: 'Project', name: 'Bench clinic' });
  const meta = { project: project.id };
  const patient = await post('Patient', { resourceType: 'Patient', meta, name: [{ given: ['Ada'], family: 'Quillfeather' }], birthDate: '1990-01-01' });
  const policy = await post('AccessPolicy', {
    resourceType: 'AccessPolicy',
    meta,
    name: 'Bench reader',
    resource: [{ resourceType: 'Patient', readonly: true }, { resourceType: 'Practitioner', criteria: 'Practitioner?_id=%profile.id' }],
  });
  await post(`Project/${project.id}/$invite`, memberInvite(policy.id));
  const member = await signIn(base, MEMBER_EMAIL, MEMBER_PASSWORD, project.id);
  return { admin, member, patient, project: project.id, policy: policy.id };
}

/** The invite of the benchmark's member (project-scoped, with a password, no mail). */
export function memberInvite(policyId, email = MEMBER_EMAIL, extra = []) {
  return {
    resourceType: 'Parameters',
    parameter: [
      { name: 'resourceType', valueCode: 'Practitioner' },
      // An administrator may choose the password only of a project-scoped user.
      { name: 'scope', valueCode: 'project' },
      { name: 'firstName', valueString: 'Bench' },
      { name: 'lastName', valueString: 'Member' },
      { name: 'email', valueString: email },
      { name: 'password', valueString: MEMBER_PASSWORD },
      { name: 'sendEmail', valueBoolean: false },
      { name: 'accessPolicy', valueReference: { reference: `AccessPolicy/${policyId}` } },
      ...extra,
    ],
  };
}

/** The invite of a new person as a Practitioner (welcome mail with a link); `email` may hold autocannon's `[<id>]`. */
export function newPersonInvite(email) {
  return {
    resourceType: 'Parameters',
    parameter: [
      { name: 'resourceType', valueCode: 'Practitioner' },
      { name: 'firstName', valueString: 'Bench' },
      { name: 'lastName', valueString: 'Person' },
      { name: 'email', valueString: email },
    ],
  };
}

/** The search cases' 20 hits: Patients named Searchable-0 … Searchable-19 in `project`, posted as `who`. */
export async function postSearchables(base, who, project) {
  for (let i = 0; i < 20; i++) {
    await fhirWrite(base, who, 'Patient', { resourceType: 'Patient', meta: { project }, name: [{ given: ['Bench'], family: `Searchable-${i}` }], gender: 'female' });
  }
}

/** The member invited again into its project: an upsert of the existing person, no password, no mail. */
export function memberReinvite(policyId) {
  const invite = memberInvite(policyId, MEMBER_EMAIL, [{ name: 'upsert', valueBoolean: true }]);
  return { ...invite, parameter: invite.parameter.filter((p) => p.name !== 'password') };
}

/** How many Patients the transaction-Bundle case creates per Bundle. */
export const BUNDLE_PATIENTS = 50;

/** A transaction Bundle creating BUNDLE_PATIENTS Patients. */
export function patientTransaction() {
  const entry = Array.from({ length: BUNDLE_PATIENTS }, (_, i) => ({
    resource: { resourceType: 'Patient', name: [{ given: ['Bundled'], family: `Patient-${i}` }], birthDate: '1990-01-01', gender: 'female' },
    request: { method: 'POST', url: 'Patient' },
  }));
  return { resourceType: 'Bundle', type: 'transaction', entry };
}


/** A rest-hook receiver on loopback that answers 204 and counts what it received. */
export async function startReceiver() {
  const { createServer } = await import('node:http');
  let received = 0;
  let lastAt = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      lastAt = Date.now();
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/hook`,
    received: () => received,
    /** When the last notification arrived (ms since the epoch). */
    lastAt: () => lastAt,
    close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(resolve))),
  };
}

/**
 * Two projects for the POST Patient case: one with a Subscription on every Patient of it
 * (payload application/fhir+json, signed) pointing at `receiverUrl`, one with none.
 */
export async function subscriptionProjects(base, admin, receiverUrl) {
  const headers = { authorization: `Bearer ${admin.access}`, 'content-type': 'application/fhir+json' };
  const post = (path, body) => fetch(`${base}fhir/R4/${path}`, { method: 'POST', headers, body: JSON.stringify(body) }).then(json);
  const withSubscription = await post('Project', { resourceType: 'Project', name: 'Bench subscribed' });
  const without = await post('Project', { resourceType: 'Project', name: 'Bench unsubscribed' });
  await post('Subscription', {
    resourceType: 'Subscription',
    meta: { project: withSubscription.id },
    status: 'active',
    reason: 'bench',
    criteria: 'Patient',
    channel: { type: 'rest-hook', endpoint: receiverUrl, payload: 'application/fhir+json' },
    extension: [{ url: 'https://www.medplum.com/fhir/StructureDefinition/subscription-secret', valueString: 'bench-secret-0123456789' }],
  });
  return { withSubscription: withSubscription.id, without: without.id };
}
