// Benchmarks: autocannon against a listening server, each figure beside a floor measured in the
// same run on the same engine (a thin Fastify server doing the bare driver calls), because these
// machines are noisy. Writes bench/results/latest.json and bench/results/latest.md.
// Usage: npm run bench   (or BENCH_SECONDS=5 node bench/run.mjs after npm run build)
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import autocannon from 'autocannon';

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { buildApp } = require(join(root, 'dist/src/app.js'));
const { loadConfig } = require(join(root, 'dist/src/config.js'));
const { startEmbeddedEngine } = require(join(root, 'dist/src/db/embedded-engine.js'));
const Fastify = require('fastify');
const { MongoClient } = require('mongodb');

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const ADMIN_EMAIL = 'bench-admin@example.com';
const ADMIN_PASSWORD = 'bench-password-1234';

function run(opts) {
  return new Promise((resolve, reject) => {
    const instance = autocannon({ duration: SECONDS, connections: CONNECTIONS, ...opts }, (err, result) => (err ? reject(err) : resolve(result)));
    autocannon.track(instance, { renderProgressBar: false, renderResultsTable: false, renderLatencyTable: false });
  });
}

function summary(result) {
  return {
    requestsPerSecond: Math.round(result.requests.average),
    latencyP50ms: result.latency.p50,
    latencyP99ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    total: result.requests.total,
  };
}

async function signIn(baseUrl) {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const login = await fetch(`${baseUrl}auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD, codeChallenge: challenge, codeChallengeMethod: 'S256', scope: 'openid' }),
  }).then((r) => r.json());
  const token = await fetch(`${baseUrl}oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: login.code, code_verifier: verifier }).toString(),
  }).then((r) => r.json());
  return { access: token.access_token, project: token.project.reference.split('/')[1] };
}

async function main() {
  const engine = await startEmbeddedEngine();
  const memoryBefore = process.memoryUsage().rss;
  const results = { date: new Date().toISOString(), node: process.version, seconds: SECONDS, connections: CONNECTIONS, engine: engine.kind, cases: {} };
  try {
    // --- the server under test ---
    const config = loadConfig({
      MONGODB_URI: engine.uri, MONGODB_DATABASE: 'bench_app', ADMIN_EMAIL, ADMIN_PASSWORD,
      LOG_LEVEL: 'warn', RATE_LIMIT: 'off', DATA_DIR: join(root, 'data', 'bench'), OUTBOX_POLL_MS: '0',
    });
    const app = await buildApp(config, { embedded: true, logger: false });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${app.server.address().port}/`;
    const auth = await signIn(base);
    const headers = { authorization: `Bearer ${auth.access}`, 'content-type': 'application/fhir+json' };
    const patient = await fetch(`${base}fhir/R4/Patient`, {
      method: 'POST', headers, body: JSON.stringify({ resourceType: 'Patient', name: [{ given: ['Ada'], family: 'Quillfeather' }], birthDate: '1990-01-01' }),
    }).then((r) => r.json());

    // --- the floor: a thin Fastify server doing the bare driver calls on the same engine ---
    const client = new MongoClient(engine.uri);
    await client.connect();
    const floorDb = client.db('bench_floor');
    await floorDb.collection('Patient').insertOne({ _id: patient.id, resource: patient });
    const thin = Fastify({ logger: false });
    thin.get('/Patient/:id', async (req) => (await floorDb.collection('Patient').findOne({ _id: req.params.id })).resource);
    let seq = 0;
    thin.post('/invite', async () => {
      // The same documents an invite writes, in one transaction, with no logic around them.
      const n = `${process.pid}-${seq++}`;
      const session = client.startSession();
      try {
        await session.withTransaction(async () => {
          const now = new Date();
          await floorDb.collection('User').insertOne({ _id: `u${n}`, uk: `User|server|f${n}@example.com`, resource: { resourceType: 'User', email: `f${n}@example.com` } }, { session });
          await floorDb.collection('User_history').insertOne({ _id: `u${n}/1`, lastUpdated: now }, { session });
          await floorDb.collection('Practitioner').insertOne({ _id: `p${n}`, resource: { resourceType: 'Practitioner' } }, { session });
          await floorDb.collection('Practitioner_history').insertOne({ _id: `p${n}/1`, lastUpdated: now }, { session });
          await floorDb.collection('ProjectMembership').insertOne({ _id: `m${n}`, uk: `pm${n}`, resource: { resourceType: 'ProjectMembership' } }, { session });
          await floorDb.collection('ProjectMembership_history').insertOne({ _id: `m${n}/1`, lastUpdated: now }, { session });
          await floorDb.collection('activations').insertOne({ _id: `a${n}`, userId: `u${n}` }, { session });
          await floorDb.collection('outbox').insertOne({ _id: `o${n}`, status: 'pending' }, { session });
        });
      } finally {
        await session.endSession();
      }
      return { ok: true };
    });
    await thin.listen({ port: 0, host: '127.0.0.1' });
    const thinBase = `http://127.0.0.1:${thin.server.address().port}/`;

    // Reads
    const floorRead = summary(await run({ url: `${thinBase}Patient/${patient.id}` }));
    const appRead = summary(await run({ url: `${base}fhir/R4/Patient/${patient.id}`, headers: { authorization: headers.authorization } }));
    results.cases.read = { app: appRead, floor: floorRead, ratio: +(appRead.requestsPerSecond / floorRead.requestsPerSecond).toFixed(2) };

    // Invites (each a new person; the engine slows as collections grow, so keep it short)
    let i = 0;
    const inviteSeconds = Math.min(SECONDS, 5);
    const floorInvite = summary(await run({ url: `${thinBase}invite`, method: 'POST', duration: inviteSeconds, connections: 4 }));
    const appInvite = summary(
      await run({
        url: `${base}fhir/R4/Project/${auth.project}/$invite`,
        method: 'POST',
        duration: inviteSeconds,
        connections: 4,
        headers,
        requests: [
          {
            setupRequest: (req) => ({
              ...req,
              body: JSON.stringify({ resourceType: 'Parameters', parameter: [
                { name: 'resourceType', valueCode: 'Practitioner' },
                { name: 'firstName', valueString: 'Bench' },
                { name: 'lastName', valueString: `Person${i}` },
                { name: 'email', valueString: `bench${process.pid}-${i++}@example.com` },
              ] }),
            }),
          },
        ],
      }),
    );
    results.cases.invite = { app: appInvite, floor: floorInvite, ratio: +(appInvite.requestsPerSecond / floorInvite.requestsPerSecond).toFixed(2) };
    results.memory = { rssBeforeMB: Math.round(memoryBefore / 1e6), rssAfterMB: Math.round(process.memoryUsage().rss / 1e6), heapUsedMB: Math.round(process.memoryUsage().heapUsed / 1e6) };

    await thin.close();
    await client.close();
    await app.close();
  } finally {
    await engine.stop();
  }

  const outDir = join(root, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'latest.json'), JSON.stringify(results, null, 2));
  const row = (name, c) => `| ${name} | ${c.app.requestsPerSecond} | ${c.app.latencyP50ms} / ${c.app.latencyP99ms} | ${c.floor.requestsPerSecond} | ${c.ratio} | ${c.app.non2xx + c.app.errors} |`;
  const md = [
    `Measured ${results.date} on ${results.node}, ${results.engine}, ${SECONDS}s per read case, ${CONNECTIONS} connections.`,
    '',
    '| case | server req/s | p50 / p99 ms | floor req/s | server / floor | non-2xx + errors |',
    '|---|---|---|---|---|---|',
    row('GET Patient/{id}', results.cases.read),
    row('POST Project/$invite (new person)', results.cases.invite),
    '',
    `Process memory: RSS ${results.memory.rssBeforeMB} MB before, ${results.memory.rssAfterMB} MB after; heap used ${results.memory.heapUsedMB} MB.`,
  ].join('\n');
  writeFileSync(join(outDir, 'latest.md'), md + '\n');
  console.log(md);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
