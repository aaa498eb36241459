// The floor: a thin Fastify server on the same engine doing the bare driver calls of each case,
// with no logic around them (no auth, no access policy, no validation, no logging). Reads run
// against the server's own database (the same documents, the same collection sizes); writes go
// to a database of its own holding the server's indexes, as copies of documents the server wrote.
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { MEMBER_PASSWORD } from './fixtures.mjs';

const require = createRequire(import.meta.url);
const Fastify = require('fastify');
const { MongoClient } = require('mongodb');
const jose = require('jose');

/** The collections one invite (a new person, with the welcome email) writes, in its transaction. */
export const INVITE_COLLECTIONS = ['User', 'User_history', 'Practitioner', 'Practitioner_history', 'ProjectMembership', 'ProjectMembership_history', 'activations', 'outbox'];

const escapeRegex = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const sha256 = (s) => createHash('sha256').update(s).digest('hex');

/**
 * Starts the floor on `uri`, the copies it writes in `docsDatabase` (a second floor on the same
 * engine takes a database of its own). Its routes:
 * - GET /read/:id: one findOne of the Patient (without its search fields, as the server reads it).
 * - GET /search?prefix=P[&type=T][&include=param]: the server's find for `T?name=P&_count=20` (not
 *   deleted, name prefix on the stored search field, newest first, 21 documents; T: Patient), and
 *   with `include` the second find of `_include=T:param` (the referenced Patients, not deleted).
 * - GET /history/:id: the current Patient (the server checks it exists and is visible), then its
 *   history entries, newest first (one page).
 * - POST /write/:name: copies of the documents the server wrote for one request of case `name`
 *   (useTemplates), inserted in ONE transaction, like the server's.
 * - PUT /update/:id: in one transaction, read the current version, write the next one guarded by
 *   the version read, insert its history entry.
 * - POST /login: find the credentials, verify the password against an argon2 hash with the
 *   server's parameters, insert a login document. POST /code: find the login by its code's hash,
 *   mark the code used, read membership and project, sign access, refresh and id tokens (ES256).
 * - POST /refresh: verify the refresh token's signature, read the login, membership and project,
 *   rotate the login's refresh secret (guarded update), sign access and refresh tokens.
 * - POST /client: read the ClientApplication, its credentials, compare the secret's hash, read the
 *   membership and project, insert a login, sign an access token.
 * - GET /me: read the membership, project, profile, user and access policy of a sign-in.
 */
export async function startFloor(uri, dist, docsDatabase = 'bench_floor_docs') {
  const client = new MongoClient(uri);
  await client.connect();
  const appDb = client.db('bench_app');
  const db = client.db(docsDatabase);
  await dist.ensureIndexes({ db });
  const thin = Fastify({ logger: false });
  let ids = {};
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
  const { privateKey, publicKey } = await jose.generateKeyPair('ES256');
  const sign = (claims) => new jose.SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'floor' }).setIssuedAt().setExpirationTime('1h').sign(privateKey);
  const tokens = async (login, withId) => ({
    access_token: await sign({ login_id: login._id, sub: login.userId, scope: 'openid' }),
    refresh_token: await sign({ login_id: login._id, refresh_secret: randomBytes(32).toString('base64url') }),
    ...(withId ? { id_token: await sign({ sub: login.userId, nonce: 'n' }) } : {}),
  });

  // The same projection as the server's read (the stored search fields and unique key stay in the database).
  const current = (type, id) => appDb.collection(type).findOne({ _id: id }, { projection: { sp: 0, uk: 0 } });
  thin.get('/read/:id', async (req) => (await current('Patient', req.params.id)).resource);
  thin.get('/search', async (req) => {
    const type = req.query.type ?? 'Patient';
    const docs = await appDb
      .collection(type)
      .find({ $and: [{ deleted: false }, { 'sp.name.n': { $regex: `^${escapeRegex(req.query.prefix.toLowerCase())}` } }] })
      .sort({ lastUpdated: -1, _id: -1 })
      .limit(21)
      .toArray();
    const entry = docs.slice(0, 20).map((d) => ({ resource: d.resource }));
    if (req.query.include) {
      const wanted = [...new Set(docs.slice(0, 20).flatMap((d) => d.sp[req.query.include] ?? []).map((r) => r.split('/')[1]))];
      const included = await appDb.collection('Patient').find({ $and: [{ _id: { $in: wanted }, deleted: false }] }).limit(1000).toArray();
      entry.push(...included.map((d) => ({ resource: d.resource })));
    }
    return { resourceType: 'Bundle', type: 'searchset', entry };
  });
  thin.get('/history/:id', async (req) => {
    // Like the server: the current version first (unknown, deleted or not visible: 404), then the page.
    await current('Patient', req.params.id);
    const docs = await appDb.collection('Patient_history').find({ id: req.params.id }).sort({ version: -1 }).limit(21).toArray();
    return { resourceType: 'Bundle', type: 'history', entry: docs.slice(0, 20).map((d) => ({ resource: d.resource })) };
  });

  let seq = 0;
  const templates = new Map();
  thin.post('/write/:name', async (req) => {
    const n = `${process.pid}-${seq++}`;
    await transaction(async (session) => {
      for (const [i, { collection, doc }] of templates.get(req.params.name).entries()) {
        const copy = { ...doc, _id: `${n}-${i}${collection.endsWith('_history') ? '/1' : ''}` };
        if (typeof doc.uk === 'string') {
          copy.uk = `${doc.uk}|${n}`;
        } else if (Array.isArray(doc.uk)) {
          copy.uk = doc.uk.map((k) => `${k}|${n}`);
        }
        await db.collection(collection).insertOne(copy, { session });
      }
    });
    return { ok: true };
  });
  thin.put('/update/:id', async (req) => {
    await transaction(async (session) => {
      const current = await db.collection('Patient').findOne({ _id: req.params.id }, { session });
      const version = current.version + 1;
      const lastUpdated = new Date();
      const resource = { ...current.resource, meta: { ...current.resource.meta, versionId: String(version), lastUpdated: lastUpdated.toISOString() } };
      await db.collection('Patient').updateOne({ _id: current._id, version: current.version }, { $set: { resource, version, lastUpdated } }, { session });
      await db.collection('Patient_history').insertOne({ _id: `${current._id}/${version}-${seq++}`, id: current._id, version, lastUpdated, deleted: false, method: 'PUT', resource }, { session });
    });
    return { ok: true };
  });

  const hash = await dist.passwordHash.hashPassword(MEMBER_PASSWORD);
  await db.collection('credentials').insertOne({ _id: 'bench-user', passwordHash: hash });
  thin.post('/login', async (req, reply) => {
    const credentials = await db.collection('credentials').findOne({ _id: 'bench-user' });
    if (!(await dist.passwordHash.verifyPassword(credentials.passwordHash, MEMBER_PASSWORD))) {
      return reply.status(400).send({ ok: false });
    }
    const code = randomBytes(32).toString('base64url');
    await db.collection('logins').insertOne({ _id: `l${process.pid}-${seq++}`, userId: 'bench-user', codeHash: sha256(code), createdAt: new Date() });
    return { code };
  });
  thin.post('/code', async (req) => {
    const login = await db.collection('logins').findOne({ codeHash: sha256(req.body.code) });
    await db.collection('logins').findOneAndUpdate({ _id: login._id, codeUsed: { $ne: true } }, { $set: { codeUsed: true } });
    await appDb.collection('ProjectMembership').findOne({ _id: ids.memberMembership });
    await appDb.collection('Project').findOne({ _id: ids.project });
    return tokens(login, true);
  });
  thin.post('/refresh', async (req) => {
    const { payload } = await jose.jwtVerify(req.body.refresh_token, publicKey);
    const login = await db.collection('logins').findOne({ _id: payload.login_id });
    await appDb.collection('ProjectMembership').findOne({ _id: ids.memberMembership });
    await appDb.collection('Project').findOne({ _id: ids.project });
    const secret = randomBytes(32).toString('base64url');
    await db.collection('logins').findOneAndUpdate({ _id: login._id }, { $set: { refreshSecretHash: sha256(secret), updatedAt: new Date() } }, { returnDocument: 'after' });
    return tokens(login, false);
  });
  thin.post('/client', async () => {
    await appDb.collection('ClientApplication').findOne({ _id: ids.client });
    const stored = await appDb.collection('credentials').findOne({ _id: ids.client });
    const matches = stored?.clientSecretHash === sha256(ids.clientSecret) || typeof stored?.clientSecretHash === 'string';
    await appDb.collection('ProjectMembership').find({ 'sp.user': `ClientApplication/${ids.client}`, deleted: false }).limit(2).toArray();
    await appDb.collection('Project').findOne({ _id: ids.project });
    const login = { _id: `c${process.pid}-${seq++}`, userId: ids.client, createdAt: new Date(), matches };
    await db.collection('logins').insertOne(login);
    return { access_token: await sign({ login_id: login._id, sub: ids.client }) };
  });
  thin.get('/me', async () => {
    const membership = await appDb.collection('ProjectMembership').findOne({ _id: ids.memberMembership });
    const project = await appDb.collection('Project').findOne({ _id: ids.project });
    const profile = await appDb.collection('Practitioner').findOne({ _id: ids.memberProfile });
    const user = await appDb.collection('User').findOne({ _id: ids.memberUser });
    const policy = await appDb.collection('AccessPolicy').findOne({ _id: ids.policy });
    return {
      accessPolicy: policy?.resource, project: project.resource, membership: membership.resource, profile: profile.resource, user: user?.resource };
  });

  await thin.listen({ port: 0, host: '127.0.0.1' });
  return {
    base: `http://127.0.0.1:${thin.server.address().port}/`,
    server: thin.server,
    /** The ids of the server's fixtures (project, member's membership, profile and user, client). */
    configure: (given) => void (ids = { ...ids, ...given }),
    /**
     * The newest `count` documents of each collection of the server's database as the case's
     * template (what one request of that case wrote); collections with a count of 0 are skipped.
     */
    useTemplates: async (name, counts) => {
      const list = [];
      for (const [collection, count] of Object.entries(counts)) {
        const docs = count > 0 ? await appDb.collection(collection).find({}).toArray() : [];
        list.push(...docs.slice(-count).map((doc) => ({ collection, doc })));
      }
      templates.set(name, list);
      return list.length;
    },
    /** Copies the server's Patient `id` (current version) into the floor's database for /update. */
    copyPatient: async (id) => {
      const doc = await appDb.collection('Patient').findOne({ _id: id });
      await db.collection('Patient').deleteOne({ _id: id });
      await db.collection('Patient').insertOne(doc);
      return true;
    },
    /** Copies the login of a refresh token's sign-in (by id) so that /refresh finds one. */
    addLogin: async (loginId) => (await db.collection('logins').insertOne({ _id: loginId, userId: 'bench-user', createdAt: new Date() }), true),
    /** Signs a refresh token for a login the floor knows (the refresh flow's start). */
    refreshToken: async (loginId) => (await tokens({ _id: loginId, userId: 'bench-user' }, false)).refresh_token,
    close: async () => (await thin.close(), await client.close()),
  };
}
