// What the benchmark and the profiler share: loading the built server, signing in, and the
// data the cases read (a Patient; a plain project member whose access comes from an AccessPolicy).
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Fastify = require('fastify');
const { MongoClient } = require('mongodb');

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

async function json(response) {
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
  return { access: token.access_token, project: token.project.reference.split('/')[1] };
}

/**
 * The server's own logger configuration (main.ts uses it) at BENCH_LOG_LEVEL (default: info,
 * the server's default), written to /dev/null: the cost of every log line is measured, the
 * bench output stays readable. BENCH_LOG_LEVEL=off turns the logger off.
 */
function benchLogger(dist, config) {
  const level = process.env.BENCH_LOG_LEVEL ?? 'info';
  if (level === 'off') {
    return false;
  }
  const pino = require('pino');
  return { ...dist.loggerOptions({ ...config, logLevel: level }), stream: pino.destination({ dest: '/dev/null', sync: true }) };
}

/**
 * Builds and starts the server under test on `engineUri`, signs in the super administrator,
 * creates a project with the Patient the read cases fetch and a plain member (a Practitioner,
 * not an administrator) whose access is an AccessPolicy granting Patient read-only, signed in.
 */
export async function startServer(dist, engineUri, dataDir) {
  const config = dist.loadConfig({
    MONGODB_URI: engineUri, MONGODB_DATABASE: 'bench_app', ADMIN_EMAIL, ADMIN_PASSWORD,
    RATE_LIMIT: 'off', DATA_DIR: dataDir, OUTBOX_POLL_MS: '0',
    // The subscription case's receiver listens on loopback (the dispatcher runs at its default pace).
    SUBSCRIPTION_ALLOWED_HOSTS: '127.0.0.1',
  });
  const app = await dist.buildApp(config, { embedded: true, logger: benchLogger(dist, config) });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${app.server.address().port}/`;
  const admin = await signIn(base, ADMIN_EMAIL, ADMIN_PASSWORD);
  const headers = { authorization: `Bearer ${admin.access}`, 'content-type': 'application/fhir+json' };
  const post = (path, body) => fetch(`${base}fhir/R4/${path}`, { method: 'POST', headers, body: JSON.stringify(body) }).then(json);
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
  await post(`Project/${project.id}/$invite`, {
    resourceType: 'Parameters',
    parameter: [
      { name: 'resourceType', valueCode: 'Practitioner' },
      // An administrator may choose the password only of a project-scoped user.
      { name: 'scope', valueCode: 'project' },
      { name: 'firstName', valueString: 'Bench' },
      { name: 'lastName', valueString: 'Member' },
      { name: 'email', valueString: MEMBER_EMAIL },
      { name: 'password', valueString: MEMBER_PASSWORD },
      { name: 'sendEmail', valueBoolean: false },
      { name: 'accessPolicy', valueReference: { reference: `AccessPolicy/${policy.id}` } },
    ],
  });
  const member = await signIn(base, MEMBER_EMAIL, MEMBER_PASSWORD, project.id);
  return { app, base, admin, member, patient };
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

/** The collections one invite (a new person, with the welcome email) writes, in its transaction. */
export const INVITE_COLLECTIONS = ['User', 'User_history', 'Practitioner', 'Practitioner_history', 'ProjectMembership', 'ProjectMembership_history', 'activations', 'outbox'];

/**
 * The thin server: bare driver calls on the same engine, no logic around them.
 * - GET /Patient/:id: one findOne.
 * - POST /invite: the documents an invite writes, in one transaction, as small placeholders in
 *   collections with no secondary index.
 * - POST /invite-docs (after useInviteDocuments): copies of the documents the server's own
 *   invites wrote (same sizes), in collections with the server's indexes (dist.ensureIndexes).
 * - POST /login: a sign-in's bare work: find the credentials, verify the password against an
 *   argon2 hash made with the server's parameters (dist), insert a login document.
 */
export async function startFloor(uri, patient, dist) {
  const client = new MongoClient(uri);
  await client.connect();
  const db = client.db('bench_floor');
  const docsDb = client.db('bench_floor_docs');
  await db.collection('Patient').insertOne({ _id: patient.id, resource: patient });
  if (dist) {
    await dist.ensureIndexes({ db: docsDb });
  }
  const thin = Fastify({ logger: false });
  thin.get('/Patient/:id', async (req) => (await db.collection('Patient').findOne({ _id: req.params.id })).resource);
  // The embedded engine loses writes of concurrent transactions, so the server runs them one at a
  // time (withTransaction in src/db/transaction.ts); the floor does the same, with this mutex.
  let tail = Promise.resolve();
  const serially = (fn) => {
    const run = tail.then(fn);
    tail = run.catch(() => undefined);
    return run;
  };
  const transaction = (fn) =>
    serially(async () => {
      const session = client.startSession();
      try {
        await session.withTransaction(() => fn(session));
      } finally {
        await session.endSession();
      }
    });
  const hash = dist ? await dist.passwordHash.hashPassword(MEMBER_PASSWORD) : undefined;
  await db.collection('credentials').insertOne({ _id: 'bench-user', passwordHash: hash });
  thin.post('/login', async (req, reply) => {
    const credentials = await db.collection('credentials').findOne({ _id: 'bench-user' });
    if (!(await dist.passwordHash.verifyPassword(credentials.passwordHash, MEMBER_PASSWORD))) {
      return reply.status(400).send({ ok: false });
    }
    await db.collection('logins').insertOne({ userId: 'bench-user', createdAt: new Date() });
    return { ok: true };
  });
  let seq = 0;
  thin.post('/invite', async () => {
    const n = `${process.pid}-${seq++}`;
    await transaction(async (session) => {
      const now = new Date();
      await db.collection('User').insertOne({ _id: `u${n}`, uk: `User|server|f${n}@example.com`, resource: { resourceType: 'User', email: `f${n}@example.com` } }, { session });
      await db.collection('User_history').insertOne({ _id: `u${n}/1`, lastUpdated: now }, { session });
      await db.collection('Practitioner').insertOne({ _id: `p${n}`, resource: { resourceType: 'Practitioner' } }, { session });
      await db.collection('Practitioner_history').insertOne({ _id: `p${n}/1`, lastUpdated: now }, { session });
      await db.collection('ProjectMembership').insertOne({ _id: `m${n}`, uk: `pm${n}`, resource: { resourceType: 'ProjectMembership' } }, { session });
      await db.collection('ProjectMembership_history').insertOne({ _id: `m${n}/1`, lastUpdated: now }, { session });
      await db.collection('activations').insertOne({ _id: `a${n}`, userId: `u${n}` }, { session });
      await db.collection('outbox').insertOne({ _id: `o${n}`, status: 'pending' }, { session });
    });
    return { ok: true };
  });
  let templates = [];
  thin.post('/invite-docs', async () => {
    const n = `${process.pid}-${seq++}`;
    await transaction(async (session) => {
      for (const { collection, doc } of templates) {
        const copy = { ...doc, _id: `${n}${collection.endsWith('_history') ? '/1' : ''}` };
        if (typeof doc.uk === 'string') {
          copy.uk = `${doc.uk}|${n}`;
        }
        await docsDb.collection(collection).insertOne(copy, { session });
      }
    });
    return { ok: true };
  });
  // A transaction Bundle's floor: the documents the server writes for BUNDLE_PATIENTS Patients (current
  // version and history entry each), copies of the server's own, inserted in ONE driver transaction.
  let patientTemplates = [];
  thin.post('/transaction-docs', async () => {
    const n = `${process.pid}-${seq++}`;
    await transaction(async (session) => {
      for (let i = 0; i < BUNDLE_PATIENTS; i++) {
        for (const { collection, doc } of patientTemplates) {
          await docsDb.collection(collection).insertOne({ ...doc, _id: `${n}-${i}${collection.endsWith('_history') ? '/1' : ''}` }, { session });
        }
      }
    });
    return { ok: true };
  });
  await thin.listen({ port: 0, host: '127.0.0.1' });
  return {
    base: `http://127.0.0.1:${thin.server.address().port}/`,
    server: thin.server,
    /** Takes the last document of each invite collection of the server's database as the template. */
    useInviteDocuments: async (appDb) => {
      templates = [];
      for (const collection of INVITE_COLLECTIONS) {
        const docs = await appDb.collection(collection).find({}).toArray();
        templates.push({ collection, doc: docs[docs.length - 1] });
      }
    },
    /** Takes the last Patient the server's transaction Bundles wrote (current and history) as the template. */
    useTransactionDocuments: async (appDb) => {
      patientTemplates = [];
      for (const collection of ['Patient', 'Patient_history']) {
        const docs = await appDb.collection(collection).find({}).toArray();
        patientTemplates.push({ collection, doc: docs[docs.length - 1] });
      }
    },
    close: async () => (await thin.close(), await client.close()),
  };
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
