// Benchmarks: autocannon against a listening server, each figure beside a floor measured in the
// same run on the same engine (a thin Fastify server doing the bare driver calls), because these
// machines are noisy. Writes bench/results/latest.json and bench/results/latest.md.
// Usage: npm run bench   (or BENCH_SECONDS=5 node bench/run.mjs after npm run build)
//
// The load comes from a separate autocannon process (not from this process's event loop, which
// would take CPU from the servers and make every ratio look closer to 1). Read cases alternate
// floor and server in short rounds; each figure is the median over the rounds and the ratio the
// median of the rounds' own ratios, which evens out a noisy neighbour.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLE_PATIENTS, loadDist, MEMBER_EMAIL, MEMBER_PASSWORD, patientTransaction, startFloor, startReceiver, startServer, subscriptionProjects } from './fixtures.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ROUND_SECONDS = Math.max(1, Math.round(SECONDS / ROUNDS));
const INVITE_SECONDS = Math.min(SECONDS, 5);
const BUNDLE_REQUESTS = Number(process.env.BENCH_BUNDLES ?? 4);

/** One autocannon run in its own process; answers its JSON result. */
function autocannon(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'node_modules/autocannon/autocannon.js'), '-j', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`autocannon exited with ${code}`))));
  });
}

/** The $resend-invite load (bench/resend-load.mjs) in its own process; answers autocannon's result. */
function resendLoad(input) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'bench/resend-load.mjs'), JSON.stringify(input)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`resend load exited with ${code}`))));
  });
}

/** Runs autocannon and sums up; `cpuUsPerRequest` is this process's CPU (the server's) per request. */
async function measure(args) {
  const before = process.cpuUsage();
  const result = await autocannon(args);
  const cpu = process.cpuUsage(before);
  return { ...summary(result), cpuUsPerRequest: Math.round((cpu.user + cpu.system) / Math.max(1, result.requests.total)) };
}

function summary(result) {
  // Slow cases (a few requests a second) keep two decimals, measured over the whole run.
  const perSecond = result.requests.total / Math.max(result.duration, 0.001);
  return {
    requestsPerSecond: perSecond < 20 ? +perSecond.toFixed(2) : Math.round(result.requests.average),
    latencyP50ms: result.latency.p50,
    latencyP99ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    total: result.requests.total,
  };
}

const middle = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** The median round (by req/s), with the failures of every round. */
function median(runs) {
  const picked = [...runs].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond)[Math.floor(runs.length / 2)];
  const sum = (key) => runs.reduce((total, run) => total + run[key], 0);
  return { ...picked, cpuUsPerRequest: middle(runs.map((r) => r.cpuUsPerRequest)), non2xx: sum('non2xx'), errors: sum('errors'), total: sum('total') };
}

/** Server and floor rounds run one after the other: the ratio is the median of each pair's ratio. */
function compareRounds(appRuns, floorRuns) {
  const ratio = middle(appRuns.map((run, i) => run.requestsPerSecond / floorRuns[i].requestsPerSecond));
  return { app: median(appRuns), floor: median(floorRuns), ratio: +ratio.toFixed(2) };
}

function compare(app, floor) {
  return { app, floor, ratio: +(app.requestsPerSecond / floor.requestsPerSecond).toFixed(2) };
}

async function main() {
  const dist = loadDist(root);
  const engine = await dist.startEmbeddedEngine();
  const memoryBefore = process.memoryUsage().rss;
  const results = { date: new Date().toISOString(), node: process.version, seconds: SECONDS, rounds: ROUNDS, connections: CONNECTIONS, engine: engine.kind, cases: {} };
  try {
    const { app, base, admin, member, patient } = await startServer(dist, engine.uri, join(root, 'data', 'bench'));
    const floor = await startFloor(engine.uri, patient, dist);

    // Reads: warm every target up, then rounds of floor / super admin / member.
    const targets = {
      floor: ['-c', String(CONNECTIONS), `${floor.base}Patient/${patient.id}`],
      admin: ['-c', String(CONNECTIONS), '-H', `authorization=Bearer ${admin.access}`, `${base}fhir/R4/Patient/${patient.id}`],
      member: ['-c', String(CONNECTIONS), '-H', `authorization=Bearer ${member.access}`, `${base}fhir/R4/Patient/${patient.id}`],
    };
    const runs = { floor: [], admin: [], member: [] };
    for (const args of Object.values(targets)) {
      await autocannon(['-d', '2', ...args]);
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, args] of Object.entries(targets)) {
        runs[name].push(await measure(['-d', String(ROUND_SECONDS), ...args]));
      }
    }
    results.cases.read = compareRounds(runs.admin, runs.floor);
    results.cases.readMember = compareRounds(runs.member, runs.floor);
    results.readRounds = runs;

    // Invites (each a new person; the engine slows as collections grow, so keep it short). Then
    // the floor again, writing copies of the documents the server's invites wrote.
    const invite = ['-d', String(INVITE_SECONDS), '-c', '4', '-m', 'POST'];
    const floorInvite = await measure([...invite, `${floor.base}invite`]);
    const body = JSON.stringify({ resourceType: 'Parameters', parameter: [
      { name: 'resourceType', valueCode: 'Practitioner' },
      { name: 'firstName', valueString: 'Bench' },
      { name: 'lastName', valueString: 'Person' },
      { name: 'email', valueString: 'bench-[<id>]@example.com' },
    ] });
    const appInvite = await measure([...invite, '-I', '-b', body,
      '-H', `authorization=Bearer ${admin.access}`, '-H', 'content-type=application/fhir+json', `${base}fhir/R4/Project/${admin.project}/$invite`]);
    await floor.useInviteDocuments(app.ctx.database.db);
    const floorInviteDocs = await measure([...invite, `${floor.base}invite-docs`]);
    results.cases.invite = compare(appInvite, floorInvite);
    results.cases.inviteSameDocuments = compare(appInvite, floorInviteDocs);

    // Resends of the invitations the invite case left pending (each may be resent 5 times an
    // hour: the load goes round them). Beside the same floor as the invite, writing copies of
    // an invite's documents in one transaction (a resend writes a membership version, its
    // history entry, an activation, a mail and its counter).
    const pendingIds = (await app.ctx.database.db.collection('ProjectMembership').find({ project: admin.project, 'resource.extension.url': 'https://fhir-invite-server.example/fhir/StructureDefinition/invite-status' }).toArray()).map((d) => d._id);
    const before = process.cpuUsage();
    const resendResult = await resendLoad({ base, token: admin.access, ids: pendingIds, seconds: INVITE_SECONDS, connections: 4 });
    const cpu = process.cpuUsage(before);
    const appResend = { ...summary(resendResult), cpuUsPerRequest: Math.round((cpu.user + cpu.system) / Math.max(1, resendResult.requests.total)) };
    results.cases.resendInvite = compare(appResend, floorInviteDocs);
    results.resendInvitations = pendingIds.length;

    // Transaction Bundles of BUNDLE_PATIENTS Patients: a fixed number per round, server and floor
    // alternating (the engine slows as collections grow; a fixed duration would favour the slower).
    // The floor inserts copies of the documents the server wrote, in one driver transaction.
    const bundleBody = JSON.stringify(patientTransaction());
    const bundleArgs = ['-c', '1', '-a', String(BUNDLE_REQUESTS), '-m', 'POST'];
    const bundleTarget = [...bundleArgs, '-b', bundleBody, '-H', `authorization=Bearer ${admin.access}`, '-H', 'content-type=application/fhir+json', `${base}fhir/R4`];
    await autocannon(['-c', '1', '-a', '1', '-m', 'POST', '-b', bundleBody, '-H', `authorization=Bearer ${admin.access}`, '-H', 'content-type=application/fhir+json', `${base}fhir/R4`]);
    await floor.useTransactionDocuments(app.ctx.database.db);
    const bundleRuns = { floor: [], app: [] };
    for (let round = 0; round < ROUNDS; round++) {
      bundleRuns.floor.push(await measure([...bundleArgs, `${floor.base}transaction-docs`]));
      bundleRuns.app.push(await measure(bundleTarget));
    }
    results.cases.transactionBundle = compareRounds(bundleRuns.app, bundleRuns.floor);
    results.bundlePatients = BUNDLE_PATIENTS;

    // Sign-ins: the password is checked against an argon2id hash (PASSWORD_HASH_PARAMS); the
    // floor verifies against a hash with the same parameters and inserts a login document.
    // The member is a project-scoped user: its sign-in names its project.
    const loginBody = JSON.stringify({ email: MEMBER_EMAIL, password: MEMBER_PASSWORD, projectId: member.project });
    const login = ['-d', String(INVITE_SECONDS), '-c', '4', '-m', 'POST', '-H', 'content-type=application/json', '-b', loginBody];
    const floorLogin = await measure([...login, `${floor.base}login`]);
    const appLogin = await measure([...login, `${base}auth/login`]);
    results.cases.login = compare(appLogin, floorLogin);
    results.passwordHash = dist.passwordHash.PASSWORD_HASH_PARAMS;

    results.memory = { rssBeforeMB: Math.round(memoryBefore / 1e6), rssAfterMB: Math.round(process.memoryUsage().rss / 1e6), heapUsedMB: Math.round(process.memoryUsage().heapUsed / 1e6) };

    await floor.close();
    await app.close();
  } finally {
    await engine.stop();
  }

  // POST Patient into a project with one Subscription matching every Patient (queued in the
  // write's transaction, delivered by the dispatcher outside the request) against one with none.
  // On the embedded engine every write slows as the collection grows, so each measurement starts
  // from the same state: a fresh engine and server, the same two projects and Subscription; only
  // the project written to differs. Pairs alternate which goes first.
  const patientRuns = { without: [], with: [] };
  const deliveries = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ['without', 'with'] : ['with', 'without'];
    for (const variant of order) {
      const fresh = await dist.startEmbeddedEngine();
      try {
        const { app, base, admin } = await startServer(dist, fresh.uri, join(root, 'data', 'bench'));
        const receiver = await startReceiver();
        const projects = await subscriptionProjects(base, admin, receiver.url);
        const project = variant === 'with' ? projects.withSubscription : projects.without;
        patientRuns[variant].push(await measure(['-d', String(INVITE_SECONDS), '-c', '4', '-m', 'POST', '-H', `authorization=Bearer ${admin.access}`, '-H', 'content-type=application/fhir+json',
          '-b', JSON.stringify({ resourceType: 'Patient', meta: { project }, name: [{ given: ['Bench'], family: 'Patient' }], gender: 'female' }), `${base}fhir/R4/Patient`]));
        const loadEnd = Date.now();
        if (variant === 'with') {
          // autocannon stops at its deadline while the last requests are still being answered: count once they are.
          const count = () => app.ctx.database.db.collection('Patient').countDocuments({ project });
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
        await app.close();
      } finally {
        await fresh.stop();
      }
    }
  }
  results.cases.postPatientSubscribed = compareRounds(patientRuns.with, patientRuns.without);
  results.patientRounds = patientRuns;
  results.subscriptionDelivery = {
    created: deliveries.reduce((n, d) => n + d.created, 0),
    delivered: deliveries.reduce((n, d) => n + d.delivered, 0),
    drainMsAfterLoad: middle(deliveries.map((d) => d.drainMsAfterLoad)),
  };

  const outDir = join(root, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'latest.json'), JSON.stringify(results, null, 2));
  const row = (name, c) =>
    `| ${name} | ${c.app.requestsPerSecond} | ${c.app.latencyP50ms} / ${c.app.latencyP99ms} | ${c.floor.requestsPerSecond} | ${c.ratio} | ${c.app.cpuUsPerRequest} / ${c.floor.cpuUsPerRequest} | ${c.app.non2xx + c.app.errors} |`;
  const md = [
    `Measured ${results.date} on ${results.node}, ${results.engine}; reads: ${ROUNDS} rounds of ${ROUND_SECONDS}s per target (medians), ${CONNECTIONS} connections; invites and sign-ins: ${INVITE_SECONDS}s, 4 connections. Load from a separate autocannon process.`,
    '',
    '| case | server req/s | p50 / p99 ms | floor req/s | server / floor | CPU µs/req server / floor | non-2xx + errors |',
    '|---|---|---|---|---|---|---|',
    row('GET Patient/{id} (super admin)', results.cases.read),
    row('GET Patient/{id} (member with an AccessPolicy)', results.cases.readMember),
    row('POST Project/$invite (new person)', results.cases.invite),
    row('POST Project/$invite, floor writing the same documents', results.cases.inviteSameDocuments),
    row(`POST ProjectMembership/{id}/$resend-invite (${results.resendInvitations} pending invitations in turn), floor as above`, results.cases.resendInvite),
    row(`POST /fhir/R4 transaction Bundle, ${BUNDLE_PATIENTS} Patients`, results.cases.transactionBundle),
    row(`POST /auth/login (argon2id m=${results.passwordHash.memoryCost} KiB, t=${results.passwordHash.timeCost}, p=${results.passwordHash.parallelism})`, results.cases.login),
    '',
    '| case | with one Subscription req/s | p50 / p99 ms | without req/s | with / without | CPU µs/req with / without | non-2xx + errors |',
    '|---|---|---|---|---|---|---|',
    row('POST Patient, one matching rest-hook Subscription vs none', results.cases.postPatientSubscribed),
    '',
    `Subscription case: ${ROUNDS} pairs of ${INVITE_SECONDS}s runs, 4 connections, each run on a fresh engine and server (same projects and Subscription, only the project written to differs); ratio: median of the pairs' ratios. ${results.subscriptionDelivery.delivered} of ${results.subscriptionDelivery.created} notifications delivered to a loopback receiver, the last a median ${results.subscriptionDelivery.drainMsAfterLoad} ms after the load ended (the dispatcher runs in the server's process, outside the requests, every SUBSCRIPTION_POLL_MS = 1000 ms).`,
    '',
    'Floor: a thin Fastify server on the same engine doing the bare driver calls: one findOne for a read; for an invite the',
    '8 inserts an invite makes, in one transaction, as small placeholder documents in collections without secondary indexes',
    '(first invite row), or as copies of the documents the server\'s invites wrote, in collections with the server\'s indexes',
    '(second row). Like the server, the floor runs its transactions one at a time: on the embedded engine concurrent',
    'transactions lose writes. On that engine a commit costs time in proportion to the data of the collections it writes,',
    'so the size of what an invite stores weighs more than the work around it. The server logs at its default level (info,',
    'one line per request, to /dev/null); the floor does not log. CPU µs/req: the CPU time of the process holding both',
    'servers while one of them is under load, per request (less sensitive to a noisy machine than req/s).',
    `Transaction Bundle: ${ROUNDS} rounds of ${BUNDLE_REQUESTS} Bundles (one connection) per target, alternating; its floor inserts copies of the`,
    `documents the server wrote for ${BUNDLE_PATIENTS} Patients (current version and history entry each) in one driver transaction.`,
    'Sign-in floor: find the credentials, verify the password against an argon2 hash with the server\'s parameters, insert a',
    'login document; the server also checks the PKCE-less request, finds the user and its memberships and runs the MFA gate.',
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
