// Benchmarks: every hot path beside a floor doing the same driver work in the same run (a thin
// Fastify server doing the bare driver calls, bench/floor.mjs), because these machines are noisy.
// The server under test and the floor each run in a process of their own (bench/child.mjs): CPU
// per request and memory are that process's own. The load comes from a third process (autocannon,
// or bench/flow-load.mjs for request sequences). Writes bench/results/latest.json and latest.md.
//
// Usage: npm run bench   (or, after npm run build: node bench/run.mjs)
//   BENCH_CASES=read,search      only these groups (see GROUPS below; default: all)
//   BENCH_SECONDS (10)           seconds per target of a read-like case, split in BENCH_ROUNDS (5) rounds
//   BENCH_WRITE_SECONDS (5)      seconds per target of a write case (split in rounds too)
//   BENCH_MEMORY_REQUESTS (50000) requests per phase of the memory case
//   BENCH_MEMORY_PHASES (3)      phases of the memory case (the issue asks for two; each more shows
//                                whether what the one before added keeps growing)
//   BENCH_SIZES (200,1000,3000)  Patient counts of the growth case
// Results of a partial run go to bench/results/partial.json and partial.md (latest.* only for a full run).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { autocannon, autocannonFixed, compareRounds, flowLoad, measure, middle, root, rounds, SERVER_NODE_FLAGS, startChild } from './harness.mjs';
import { BUNDLE_PATIENTS, fhirWrite, loadDist, MEMBER_EMAIL, MEMBER_PASSWORD, memberReinvite, newPersonInvite, patientTransaction, seedServer, signIn, startReceiver, subscriptionProjects, json } from './fixtures.mjs';
import { measureStartup } from './startup.mjs';
import { mixedLoad } from './mixed.mjs';

const require = createRequire(import.meta.url);
const { MongoClient } = require('mongodb');

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ROUND_SECONDS = Math.max(1, Math.round(SECONDS / ROUNDS));
const WRITE_SECONDS = Number(process.env.BENCH_WRITE_SECONDS ?? 5);
const WRITE_ROUND_SECONDS = Math.max(1, Math.round(WRITE_SECONDS / 3));
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const MEMORY_REQUESTS = Number(process.env.BENCH_MEMORY_REQUESTS ?? 50_000);
const MEMORY_PHASES = Math.max(2, Number(process.env.BENCH_MEMORY_PHASES ?? 3));
const SIZES = (process.env.BENCH_SIZES ?? '200,1000,3000').split(',').map(Number);
const BUNDLE_REQUESTS = Number(process.env.BENCH_BUNDLES ?? 4);
const CREATES_PER_ROUND = Number(process.env.BENCH_CREATES ?? 24);
const GROWTH_CREATES_PER_ROUND = Number(process.env.BENCH_GROWTH_CREATES ?? 6);
const SEARCH_PREFIX = 'Searchable';
const GROUPS = ['read', 'search', 'history', 'create', 'update', 'invite', 'me', 'client', 'signin', 'refresh', 'bundle', 'subscription', 'growth', 'memory', 'startup'];
const picked = process.env.BENCH_CASES ? process.env.BENCH_CASES.split(',') : GROUPS;
const wants = (group) => picked.includes(group);

const dist = loadDist(root);
const results = { date: new Date().toISOString(), node: process.version, seconds: SECONDS, rounds: ROUNDS, connections: CONNECTIONS, cases: {}, labels: {}, notes: {} };
const bearer = (who) => ['-H', `authorization=Bearer ${who.access}`];
const fhirJson = ['-H', 'content-type=application/fhir+json'];
const read = (args) => () => autocannon(['-d', String(ROUND_SECONDS), '-c', String(CONNECTIONS), ...args]);

function record(key, label, comparison) {
  results.cases[key] = comparison;
  results.labels[key] = label;
  const c = comparison;
  console.log(`${label}: ${c.app.requestsPerSecond} vs ${c.floor.requestsPerSecond} req/s = ${c.ratio}; CPU ${c.app.cpuUsPerRequest} / ${c.floor.cpuUsPerRequest} µs; failures ${c.app.non2xx + c.app.errors} / ${c.floor.non2xx + c.floor.errors}`);
}

/** Documents per collection of the server's database (to see what a number of requests wrote). */
async function counts(db) {
  const out = {};
  // The embedded engine has no listCollections: every stored type, its history and the internal collections.
  const { STORED_TYPES } = require(join(process.env.BENCH_APP_ROOT ?? root, 'dist/src/fhir/resource-types.js'));
  const internal = ['activations', 'admin_guards', 'bootstrap', 'conditional_guards', 'credentials', 'idempotency', 'invite_resends', 'keys', 'logins', 'outbox', 'outbox_dispatch', 'security_events', 'subscription_lanes', 'subscription_notifications', 'subscription_owners'];
  for (const name of [...STORED_TYPES, ...STORED_TYPES.map((t) => `${t}_history`), ...internal]) {
    out[name] = await db.collection(name).countDocuments({});
  }
  return out;
}

/** The counts once the requests of an earlier load (answered after autocannon's deadline) are done. */
async function settled(db) {
  let previous = await counts(db);
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const now = await counts(db);
    if (JSON.stringify(now) === JSON.stringify(previous)) {
      return now;
    }
    previous = now;
  }
}

/**
 * Runs `requests` server requests of a write case (autocannon -a) and gives the floor, as that
 * case's template, the documents one of them wrote (collections that grew, per request).
 */
async function captureWrites(db, floor, name, requests, load) {
  const before = await settled(db);
  const result = await load();
  const after = await counts(db);
  const done = result.requests.total - result.non2xx;
  const perRequest = Object.fromEntries(Object.entries(after).map(([c, n]) => [c, Math.round((n - (before[c] ?? 0)) / Math.max(1, done))]).filter(([, n]) => n > 0));
  await floor.call('useTemplates', name, perRequest);
  results.notes[`${name}Writes`] = perRequest;
  return perRequest;
}

/** A Patient as the server stores it, copied `n` times into `collection` of `db` (filler for the growth case). */
async function fill(db, template, collection, from, to) {
  const docs = [];
  for (let i = from; i < to; i++) {
    const id = `filler-${i}`;
    docs.push({ ...template, _id: id, sp: { ...template.sp, name: [{ n: `filler${i}`, v: `Filler${i}` }] }, resource: { ...template.resource, id, name: [{ family: `Filler${i}` }] } });
  }
  for (let i = 0; i < docs.length; i += 500) {
    await db.collection(collection).insertMany(docs.slice(i, i + 500));
  }
}

/**
 * An engine with a server and a floor on it, each in a process of its own: the server seeded over
 * HTTP (bench/fixtures.mjs), the floor told the seeded ids, and the read cases' data stored. With
 * `withCappedFloor`, a second floor run with the server's Node flags (the read case's second row).
 */
async function startStack(withCappedFloor = false) {
  const engine = await dist.startEmbeddedEngine();
  const client = new MongoClient(engine.uri);
  const children = [];
  const close = async () => {
    for (const child of children.reverse()) {
      await child.close();
    }
    await client.close();
    await engine.stop();
  };
  try {
    await client.connect();
    const db = client.db('bench_app');
    const server = await startChild('server', engine.uri);
    children.push(server);
    const floor = await startChild('floor', engine.uri);
    children.push(floor);
    // The same floor run as the server is (npm start's memory caps): what the server's code adds
    // to a read, apart from what those caps cost (the read case's second row).
    const cappedFloor = withCappedFloor && wants('read') ? await startChild('floor', engine.uri, { FLOOR_DATABASE: 'bench_floor_capped' }, SERVER_NODE_FLAGS) : undefined;
    if (cappedFloor) {
      children.push(cappedFloor);
    }
    const rssAfterStartMB = (await server.memory()).rssMB;
    const { admin, member, patient, project, policy } = await seedServer(server.base);
    const post = (path, body) => fhirWrite(server.base, admin, path, body);
    const memberDoc = (await db.collection('ProjectMembership').find({ project }).toArray()).find((m) => m.resource.user?.reference?.startsWith('User/'));
    await floor.call('configure', {
      project,
      policy,
      memberMembership: memberDoc._id,
      memberProfile: memberDoc.resource.profile.reference.split('/')[1],
      memberUser: memberDoc.resource.user.reference.split('/')[1],
    });
    // Search data: 25 Patients named Searchable-n (20 hits a page), and 25 RelatedPersons of that
    // name, each pointing at one of 5 Patients (the _include case).
    const relatives = [];
    for (let i = 0; i < 25; i++) {
      const p = await post('Patient', { resourceType: 'Patient', meta: { project }, name: [{ given: ['Bench'], family: `${SEARCH_PREFIX}-${i}` }], gender: 'female' });
      relatives.push(p.id);
      await post('RelatedPerson', { resourceType: 'RelatedPerson', meta: { project }, name: [{ given: ['Kin'], family: `${SEARCH_PREFIX}-${i}` }], patient: { reference: `Patient/${relatives[i % 5]}` } });
    }
    // History: a Patient with 30 versions.
    const storied = await post('Patient', { resourceType: 'Patient', meta: { project }, name: [{ given: ['Many'], family: 'Versions' }] });
    for (let v = 2; v <= 30; v++) {
      await fhirWrite(server.base, admin, `Patient/${storied.id}`, { resourceType: 'Patient', id: storied.id, meta: { project }, name: [{ given: ['Many'], family: `Versions-${v}` }] }, 'PUT');
    }
    return { kind: engine.kind, client, db, server, floor, cappedFloor, admin, member, patient, project, policy, post, storied, rssAfterStartMB, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Read by id, search (with _include) and create; the growth case runs them again at each size (`suffix`). */
async function readCases(stack, suffix = '', label = '') {
  const { db, server, floor, admin, member, patient, project } = stack;
  // The growth case runs read, search and create at each size whatever BENCH_CASES says.
  const wants = (group) => picked.includes(group) || (suffix !== '' && ['read', 'search', 'create'].includes(group));
  const patientUrl = `fhir/R4/Patient/${patient.id}`;
  if (wants('read')) {
    await autocannon(['-d', '1', '-c', String(CONNECTIONS), `${floor.base}read/${patient.id}`]);
    await autocannon(['-d', '1', '-c', String(CONNECTIONS), ...bearer(admin), `${server.base}${patientUrl}`]);
    await autocannon(['-d', '1', '-c', String(CONNECTIONS), ...bearer(member), `${server.base}${patientUrl}`]);
    record(`read${suffix}`, `GET Patient/{id} (super admin)${label}`, await rounds(ROUNDS, server, floor, read([...bearer(admin), `${server.base}${patientUrl}`]), read([`${floor.base}read/${patient.id}`])));
    if (!suffix && stack.cappedFloor) {
      const capped = stack.cappedFloor;
      await autocannon(['-d', '1', '-c', String(CONNECTIONS), `${capped.base}read/${patient.id}`]);
      record('readCappedFloor', 'GET Patient/{id} (super admin), against a floor run with the server\'s memory caps', await rounds(ROUNDS, server, capped, read([...bearer(admin), `${server.base}${patientUrl}`]), read([`${capped.base}read/${patient.id}`])));
    }
    if (!suffix) {
      record('readMember', 'GET Patient/{id} (member with an AccessPolicy)', await rounds(ROUNDS, server, floor, read([...bearer(member), `${server.base}${patientUrl}`]), read([`${floor.base}read/${patient.id}`])));
    }
  }
  if (wants('search')) {
    const searchUrl = `${server.base}fhir/R4/Patient?name=${SEARCH_PREFIX}&_count=20`;
    const hits = await fetch(searchUrl, { headers: { authorization: `Bearer ${admin.access}` } }).then(json);
    const floorHits = await fetch(`${floor.base}search?prefix=${SEARCH_PREFIX}`).then(json);
    if (hits.entry.length !== 20 || floorHits.entry.length !== 20) {
      throw new Error(`search: ${hits.entry.length} hits on the server, ${floorHits.entry.length} on the floor (20 expected)`);
    }
    await autocannon(['-d', '1', '-c', String(CONNECTIONS), ...bearer(admin), searchUrl]);
    record(`search${suffix}`, `GET Patient?name=prefix&_count=20 (20 hits)${label}`, await rounds(ROUNDS, server, floor, read([...bearer(admin), searchUrl]), read([`${floor.base}search?prefix=${SEARCH_PREFIX}`])));
    if (!suffix) {
      const includeUrl = `${server.base}fhir/R4/RelatedPerson?name=${SEARCH_PREFIX}&_count=20&_include=RelatedPerson:patient`;
      const floorUrl = `${floor.base}search?type=RelatedPerson&prefix=${SEARCH_PREFIX}&include=patient`;
      const included = await fetch(includeUrl, { headers: { authorization: `Bearer ${admin.access}` } }).then(json);
      const floorIncluded = await fetch(floorUrl).then(json);
      if (included.entry.length !== 25 || floorIncluded.entry.length !== 25) {
        throw new Error(`search with _include: ${included.entry.length} entries on the server, ${floorIncluded.entry.length} on the floor (25 expected)`);
      }
      record('searchInclude', 'GET RelatedPerson?name=prefix&_count=20&_include=RelatedPerson:patient (20 hits, 5 included)', await rounds(ROUNDS, server, floor, read([...bearer(admin), includeUrl]), read([floorUrl])));
    }
  }
  if (wants('create')) {
    const body = JSON.stringify({ resourceType: 'Patient', meta: { project }, name: [{ given: ['Created'], family: 'Bench' }], gender: 'female', birthDate: '1980-02-03' });
    const createArgs = ['-c', '4', '-m', 'POST', ...bearer(admin), ...fhirJson, '-b', body, `${server.base}fhir/R4/Patient`];
    await captureWrites(db, floor, 'create', 4, () => autocannon(['-a', '4', '-c', '1', ...createArgs.slice(2)]));
    // A fixed number of creates per round (on the embedded engine each insert slows as the store grows).
    const amount = String(suffix ? GROWTH_CREATES_PER_ROUND : CREATES_PER_ROUND);
    record(`create${suffix}`, `POST Patient${label}`, await rounds(3, server, floor, () => autocannonFixed(['-a', amount, ...createArgs]), () => autocannonFixed(['-a', amount, '-c', '4', '-m', 'POST', `${floor.base}write/create`])));
  }
}

async function main() {
  const stack = await startStack(true);
  results.engine = stack.kind;
  const { db, server, floor, admin, member, project, policy, post, storied } = stack;
  try {
    results.memory = { serverRssAfterStartMB: stack.rssAfterStartMB };
    await readCases(stack);

    if (wants('history')) {
      const url = `${server.base}fhir/R4/Patient/${storied.id}/_history?_count=20`;
      const page = await fetch(url, { headers: { authorization: `Bearer ${admin.access}` } }).then(json);
      if (page.entry.length !== 20) {
        throw new Error(`history: ${page.entry.length} entries (20 expected)`);
      }
      record('history', 'GET Patient/{id}/_history?_count=20 (a Patient with 30 versions)', await rounds(ROUNDS, server, floor, read([...bearer(admin), url]), read([`${floor.base}history/${storied.id}`])));
    }

    if (wants('update')) {
      // Each connection updates its own Patient with If-Match on the version it last wrote.
      const ids = [];
      for (let i = 0; i < 4; i++) {
        const p = await post('Patient', { resourceType: 'Patient', meta: { project }, name: [{ given: ['Updated'], family: 'Bench' }] });
        ids.push(p.id);
        await floor.call('copyPatient', p.id);
      }
      let versions = ids.map(() => '1');
      const appRuns = [];
      const floorRuns = [];
      for (let round = 0; round < 3; round++) {
        floorRuns.push(await measure(floor, () => flowLoad({ base: floor.base, flow: 'update', floor: true, seconds: WRITE_ROUND_SECONDS, connections: 4, ids })));
        appRuns.push(
          await measure(server, async () => {
            const r = await flowLoad({ base: server.base, flow: 'update', seconds: WRITE_ROUND_SECONDS, connections: 4, ids, versions, token: admin.access, project });
            versions = r.versions;
            return r;
          }),
        );
      }
      record('update', 'PUT Patient/{id} with If-Match', compareRounds(appRuns, floorRuns));
    }

    // The invitation cases run before the token cases: every sign-in and client_credentials grant
    // leaves a login and an AuditEvent, and each embedded-engine transaction costs in proportion to
    // the whole store (after those cases, an $invite took longer than a whole 2 s round).
    if (wants('invite')) {
      const seconds = String(WRITE_ROUND_SECONDS);
      const body = JSON.stringify(newPersonInvite('bench-[<id>]@example.com'));
      const inviteArgs = ['-c', '4', '-m', 'POST', '-I', '-b', body, ...bearer(admin), ...fhirJson, `${server.base}fhir/R4/Project/${admin.project}/$invite`];
      await captureWrites(db, floor, 'invite', 4, () => autocannon(['-a', '4', '-c', '1', ...inviteArgs.slice(2)]));
      record('invite', 'POST Project/$invite (new person, welcome mail)', await rounds(3, server, floor, () => autocannon(['-d', seconds, ...inviteArgs]), () => autocannon(['-d', seconds, '-c', '4', '-m', 'POST', `${floor.base}write/invite`])));

      // The member invited again into its project (upsert): an existing person's membership updated.
      const again = JSON.stringify(memberReinvite(policy));
      const againArgs = ['-c', '4', '-m', 'POST', '-b', again, ...bearer(admin), ...fhirJson, `${server.base}fhir/R4/Project/${project}/$invite`];
      await captureWrites(db, floor, 'inviteExisting', 4, () => autocannon(['-a', '4', '-c', '1', ...againArgs.slice(2)]));
      record('inviteExisting', 'POST Project/$invite (existing person, upsert, no mail)', await rounds(3, server, floor, () => autocannon(['-d', seconds, ...againArgs]), () => autocannon(['-d', seconds, '-c', '4', '-m', 'POST', `${floor.base}write/inviteExisting`])));

      // Resends of the invitations the invite case left pending (each may be resent 5 times an hour).
      const pending = (await db.collection('ProjectMembership').find({ project: admin.project, 'resource.extension.url': 'https://fhir-invite-server.example/fhir/StructureDefinition/invite-status' }).toArray()).map((d) => d._id);
      const resendInput = { base: server.base, flow: 'resend', connections: 4, token: admin.access };
      const before = await settled(db);
      const warm = await flowLoad({ ...resendInput, ids: pending.slice(0, 4), seconds: 1 });
      const after = await counts(db);
      const perRequest = Object.fromEntries(Object.entries(after).map(([c, n]) => [c, Math.round((n - (before[c] ?? 0)) / Math.max(1, warm.requests.total))]).filter(([, n]) => n > 0));
      await floor.call('useTemplates', 'resend', perRequest);
      results.notes.resendWrites = perRequest;
      const rest = pending.slice(4);
      const appRuns = [];
      const floorRuns = [];
      for (let round = 0; round < 3; round++) {
        floorRuns.push(await measure(floor, () => autocannon(['-d', seconds, '-c', '4', '-m', 'POST', `${floor.base}write/resend`])));
        appRuns.push(await measure(server, () => flowLoad({ ...resendInput, ids: rest.filter((_, i) => i % 3 === round), seconds: WRITE_ROUND_SECONDS })));
      }
      record('resendInvite', `POST ProjectMembership/{id}/$resend-invite (${rest.length} pending invitations in turn)`, compareRounds(appRuns, floorRuns));
    }

    if (wants('me')) {
      const me = `${server.base}auth/me`;
      await autocannon(['-d', '1', '-c', String(CONNECTIONS), ...bearer(member), me]);
      record('me', 'GET /auth/me (member)', await rounds(ROUNDS, server, floor, read([...bearer(member), me]), read([`${floor.base}me`])));
    }

    if (wants('client')) {
      const created = await fetch(`${server.base}admin/projects/${project}/client`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin.access}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Bench client' }),
      }).then(json);
      await floor.call('configure', { client: created.id, clientSecret: created.secret });
      const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: created.id, client_secret: created.secret }).toString();
      const args = ['-c', '4', '-m', 'POST', '-H', 'content-type=application/x-www-form-urlencoded', '-b', body, `${server.base}oauth2/token`];
      const seconds = String(ROUND_SECONDS);
      record('clientCredentials', 'POST /oauth2/token grant_type=client_credentials', await rounds(ROUNDS, server, floor, () => autocannon(['-d', seconds, ...args]), () => autocannon(['-d', seconds, '-c', '4', '-m', 'POST', `${floor.base}client`])));
    }

    if (wants('signin')) {
      // Password (argon2id), then the code exchange: one flow = two requests, counted as one.
      const login = { email: MEMBER_EMAIL, password: MEMBER_PASSWORD, projectId: project };
      const appRuns = [];
      const floorRuns = [];
      for (let round = 0; round < 3; round++) {
        floorRuns.push(await measure(floor, () => flowLoad({ base: floor.base, flow: 'signin', floor: true, seconds: WRITE_ROUND_SECONDS, connections: 4 })));
        appRuns.push(await measure(server, () => flowLoad({ base: server.base, flow: 'signin', seconds: WRITE_ROUND_SECONDS, connections: 4, login })));
      }
      record('signin', `sign-in: POST /auth/login (argon2id m=${dist.passwordHash.PASSWORD_HASH_PARAMS.memoryCost} KiB, t=${dist.passwordHash.PASSWORD_HASH_PARAMS.timeCost}) + POST /oauth2/token (code)`, compareRounds(appRuns, floorRuns));
    }

    if (wants('refresh')) {
      // Each connection rotates its own sign-in's refresh token.
      let tokens = [];
      const floorTokens = [];
      for (let i = 0; i < 4; i++) {
        tokens.push((await signIn(server.base, MEMBER_EMAIL, MEMBER_PASSWORD, project)).refresh);
        await floor.call('addLogin', `floor-login-${i}`);
        floorTokens.push(await floor.call('refreshToken', `floor-login-${i}`));
      }
      const appRuns = [];
      const floorRuns = [];
      for (let round = 0; round < ROUNDS; round++) {
        floorRuns.push(await measure(floor, () => flowLoad({ base: floor.base, flow: 'refresh', floor: true, seconds: ROUND_SECONDS, connections: 4, tokens: floorTokens })));
        appRuns.push(
          await measure(server, async () => {
            const r = await flowLoad({ base: server.base, flow: 'refresh', seconds: ROUND_SECONDS, connections: 4, tokens });
            tokens = r.tokens;
            return r;
          }),
        );
      }
      record('refresh', 'POST /oauth2/token grant_type=refresh_token', compareRounds(appRuns, floorRuns));
    }

    if (wants('bundle')) {
      // Transaction Bundles of BUNDLE_PATIENTS Patients: a fixed number per round, alternating.
      const bundleBody = JSON.stringify(patientTransaction());
      const target = ['-c', '1', '-m', 'POST', '-b', bundleBody, ...bearer(admin), ...fhirJson, `${server.base}fhir/R4`];
      await captureWrites(db, floor, 'bundle', 1, () => autocannon(['-a', '1', ...target]));
      record('transactionBundle', `POST /fhir/R4 transaction Bundle, ${BUNDLE_PATIENTS} Patients`, await rounds(ROUNDS, server, floor, () => autocannonFixed(['-a', String(BUNDLE_REQUESTS), ...target]), () => autocannonFixed(['-a', String(BUNDLE_REQUESTS), '-c', '1', '-m', 'POST', `${floor.base}write/bundle`])));
    }

    results.memory.serverRssAtEndMB = (await server.memory()).rssMB;
    results.memory.floorRssAtEndMB = (await floor.memory()).rssMB;
  } finally {
    await stack.close();
  }

  if (wants('growth')) {
    await growthCase();
  }
  if (wants('memory')) {
    // A server of its own on an engine of its own, with rate limits on (counters per address and email), for 3 × 50k requests
    // (BENCH_MEMORY_PHASES × BENCH_MEMORY_REQUESTS), its memory read after a full GC before the first phase and after each.
    const fresh = await dist.startEmbeddedEngine();
    const mem = await startChild('server', fresh.uri, { MONGODB_DATABASE: 'bench_memory', RATE_LIMIT: 'on', RATE_LIMIT_MAX: '100000' });
    try {
      const afterStart = await mem.memory();
      const seeded = await seedServer(mem.base);
      const phase = () => mixedLoad({ base: mem.base, admin: seeded.admin.access, member: seeded.member.access, patient: seeded.patient.id, amount: MEMORY_REQUESTS, connections: CONNECTIONS });
      const phases = [];
      const after = [];
      for (let i = 0; i < MEMORY_PHASES; i++) {
        phases.push(await measure(mem, phase));
        after.push(await mem.memory());
      }
      const [afterFirst, afterSecond] = after;
      results.memory = { ...results.memory, afterStart, afterFirst, afterSecond, afterPhases: after, requestsPerPhase: MEMORY_REQUESTS, phases };
      console.log('memory', JSON.stringify(results.memory));
    } finally {
      await mem.close();
      await fresh.stop();
    }
  }
  if (wants('startup')) {
    results.startup = await measureStartup(dist);
    console.log('startup', JSON.stringify(results.startup));
  }
  if (wants('subscription')) {
    await subscriptionCase();
  }
  write();
}

/**
 * Read, search and create with the Patient collection at each size, on an engine, server and floor
 * of their own: the cases before leave thousands of documents in the store (the transaction Bundles
 * above all), and each transaction of the embedded engine costs in proportion to the whole store.
 * Filler Patients are copies of one the server stored; the search's 20 hits stay the same.
 */
async function growthCase() {
  const stack = await startStack();
  try {
    const { db, client, patient } = stack;
    const floorDocs = client.db('bench_floor_docs');
    const template = await db.collection('Patient').findOne({ _id: patient.id });
    results.growth = [];
    for (const size of SIZES) {
      // The server's collection (read, search) and the floor's own (its creates insert there).
      for (const target of [db, floorDocs]) {
        const have = await target.collection('Patient').countDocuments({});
        if (have < size) {
          await fill(target, template, 'Patient', have, size);
        }
      }
      await readCases(stack, `At${size}`, ` at ${size} Patients`);
      const row = { size, patients: await db.collection('Patient').countDocuments({}) };
      for (const key of ['read', 'search', 'create']) {
        const c = results.cases[`${key}At${size}`];
        if (c) {
          row[key] = { ratio: c.ratio, app: c.app.requestsPerSecond, floor: c.floor.requestsPerSecond, cpuOverUs: c.cpuOverUs };
        }
      }
      results.growth.push(row);
    }
  } finally {
    await stack.close();
  }
}

async function subscriptionCase() {
  // POST Patient into a project with one Subscription matching every Patient against one with
  // none; each run on a fresh engine and server (every write slows as the collection grows).
  const patientRuns = { without: [], with: [] };
  const deliveries = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ['without', 'with'] : ['with', 'without'];
    for (const variant of order) {
      const fresh = await dist.startEmbeddedEngine();
      const client = new MongoClient(fresh.uri);
      try {
        const server = await startChild('server', fresh.uri);
        const { admin } = await seedServer(server.base);
        const receiver = await startReceiver();
        const projects = await subscriptionProjects(server.base, admin, receiver.url);
        const project = variant === 'with' ? projects.withSubscription : projects.without;
        patientRuns[variant].push(await measure(server, () => autocannon(['-d', String(WRITE_SECONDS), '-c', '4', '-m', 'POST', ...bearer(admin), ...fhirJson,
          '-b', JSON.stringify({ resourceType: 'Patient', meta: { project }, name: [{ given: ['Bench'], family: 'Patient' }], gender: 'female' }), `${server.base}fhir/R4/Patient`])));
        const loadEnd = Date.now();
        if (variant === 'with') {
          await client.connect();
          const count = () => client.db('bench_app').collection('Patient').countDocuments({ project });
          let created = await count();
          for (let previous = -1; previous !== created; ) {
            await new Promise((resolve) => setTimeout(resolve, 1000));
            [previous, created] = [created, await count()];
          }
          const drainStart = Date.now();
          while (receiver.received() < created && Date.now() - drainStart < 60_000) {
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
          deliveries.push({ created, delivered: receiver.received(), drainMsAfterLoad: Math.max(0, receiver.lastAt() - loadEnd) });
        }
        await receiver.close();
        await server.close();
      } finally {
        await client.close();
        await fresh.stop();
      }
    }
  }
  results.cases.postPatientSubscribed = compareRounds(patientRuns.with, patientRuns.without);
  results.labels.postPatientSubscribed = 'POST Patient, one matching rest-hook Subscription vs none';
  results.subscriptionDelivery = {
    created: deliveries.reduce((n, d) => n + d.created, 0),
    delivered: deliveries.reduce((n, d) => n + d.delivered, 0),
    drainMsAfterLoad: middle(deliveries.map((d) => d.drainMsAfterLoad)),
  };
}

/** A growth table cell; no ratio when a side answered nothing (every request of its rounds timed out). */
function growthCell(c) {
  if (!c) {
    return '-';
  }
  if (!c.app || !c.floor) {
    return `no ratio (${c.app} vs ${c.floor} req/s: every request of a side timed out)`;
  }
  return `${c.ratio} (${c.app} vs ${c.floor} req/s, ${c.cpuOverUs < 0 ? '−' + -c.cpuOverUs : '+' + c.cpuOverUs} µs)`;
}

function write() {
  const full = picked.length === GROUPS.length;
  const outDir = join(root, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const name = process.env.BENCH_OUT ?? (full ? 'latest' : 'partial');
  writeFileSync(join(outDir, `${name}.json`), JSON.stringify(results, null, 2));
  const row = (key) => {
    const c = results.cases[key];
    return `| ${results.labels[key]} | ${c.app.requestsPerSecond} | ${c.app.latencyP50ms} / ${c.app.latencyP99ms} | ${c.floor.requestsPerSecond} | ${c.ratio} | ${c.app.cpuUsPerRequest} / ${c.floor.cpuUsPerRequest} | ${c.app.cpuUsPerRequest - c.floor.cpuUsPerRequest} | ${c.app.non2xx + c.app.errors} |`;
  };
  const keys = Object.keys(results.cases).filter((k) => !/At\d+$/.test(k) && k !== 'postPatientSubscribed');
  const lines = [
    `Measured ${results.date} on ${results.node}, ${results.engine}; server and floor each in a process of its own, the load from a third. Read-like cases: ${ROUNDS} alternating rounds of ${ROUND_SECONDS}s per target, ${CONNECTIONS} connections (4 for token cases); write cases: 3 rounds of ${WRITE_ROUND_SECONDS}s, 4 connections. Medians; ratio = median of the rounds' ratios.`,
    '',
    '| case | server req/s | p50 / p99 ms | floor req/s | server / floor | CPU µs/req server / floor | CPU µs over floor | non-2xx + errors |',
    '|---|---|---|---|---|---|---|---|',
    ...keys.map(row),
  ];
  if (results.growth) {
    lines.push('', 'Growth with the size of the Patient collection (on an engine, server and floor of their own, filled with copies of one Patient to each size; its count when the case ran, creates of the earlier sizes included; server / floor, req/s, CPU µs per request over the floor):', '',
      '| Patients | read | search (20 hits) | create |', '|---|---|---|---|',
      ...results.growth.map((g) => `| ${g.patients} | ${['read', 'search', 'create'].map((k) => growthCell(g[k])).join(' | ')} |`));
  }
  if (results.cases.postPatientSubscribed) {
    const c = results.cases.postPatientSubscribed;
    lines.push('', '| case | with one Subscription req/s | p50 / p99 ms | without req/s | with / without | CPU µs/req with / without |', '|---|---|---|---|---|---|',
      `| ${results.labels.postPatientSubscribed} | ${c.app.requestsPerSecond} | ${c.app.latencyP50ms} / ${c.app.latencyP99ms} | ${c.floor.requestsPerSecond} | ${c.ratio} | ${c.app.cpuUsPerRequest} / ${c.floor.cpuUsPerRequest} |`,
      '', `${results.subscriptionDelivery.delivered} of ${results.subscriptionDelivery.created} notifications delivered, the last a median ${results.subscriptionDelivery.drainMsAfterLoad} ms after the load ended.`);
  }
  const m = results.memory;
  if (m?.afterSecond) {
    lines.push('', `Memory of the server's own process (RSS / heap used after a full GC): after start ${m.afterStart.rssMB} / ${m.afterStart.heapUsedMB} MB; after ${m.requestsPerPhase} requests of a mixed workload ${m.afterFirst.rssMB} / ${m.afterFirst.heapUsedMB} MB; after another ${m.requestsPerPhase} ${m.afterSecond.rssMB} / ${m.afterSecond.heapUsedMB} MB${(m.afterPhases ?? []).slice(2).map((a, i) => `; after ${m.requestsPerPhase * (i + 3)} in all ${a.rssMB} / ${a.heapUsedMB} MB`).join('')}. The benchmark's main server at the end of the run: ${m.serverRssAtEndMB} MB RSS.`);
  }
  if (results.startup) {
    const s = results.startup;
    lines.push('', `Start-up (node dist/server.js with MONGODB_URI set, process start to the first /healthcheck 200, median of ${s.runs}): ${s.emptyMs} ms on an empty database (creates the indexes and the first administrator), ${s.restartMs} ms on an existing one.`);
  }
  if (Object.keys(results.notes).length) {
    lines.push('', `Documents one request wrote (the floor inserts copies of them in one transaction): ${Object.entries(results.notes).map(([k, v]) => `${k.replace(/Writes$/, '')}: ${Object.entries(v).map(([c, n]) => `${c} ${n}`).join(', ')}`).join('; ')}.`);
  }
  writeFileSync(join(outDir, `${name}.md`), lines.join('\n') + '\n');
  console.log(lines.join('\n'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
