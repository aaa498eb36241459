// The audit trail's cost: sign-in and Project/$invite throughput with auditing on, as a ratio to
// the same server with auditing off (AppDeps.audit = false), measured in the same run.
// Writes bench/results/audit.json and bench/results/audit.md.
// Usage: npm run bench:audit   (or BENCH_AUDIT_SECONDS=5 BENCH_AUDIT_ROUNDS=3 node bench/audit.mjs after npm run build)
//
// On the embedded engine every write slows as a collection grows, so each measurement starts from
// the same state: a fresh engine and server with the same project and member; only the audit
// switch differs. Rounds alternate which variant goes first; each ratio is the median of the
// rounds' own ratios (these machines are noisy). The load comes from a separate autocannon process.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADMIN_EMAIL, ADMIN_PASSWORD, loadDist, signIn } from './fixtures.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SECONDS = Number(process.env.BENCH_AUDIT_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_AUDIT_ROUNDS ?? 3);
const CONNECTIONS = 4;
const GOAL = 0.9;
const MEMBER_EMAIL = 'audit-bench-member@example.com';
const MEMBER_PASSWORD = 'audit-bench-Correct-Horse-9';

function autocannon(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'node_modules/autocannon/autocannon.js'), '-j', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`autocannon exited with ${code}`))));
  });
}

async function measure(args) {
  const result = await autocannon(['-d', String(SECONDS), '-c', String(CONNECTIONS), ...args]);
  const perSecond = result.requests.total / Math.max(result.duration, 0.001);
  return { requestsPerSecond: +perSecond.toFixed(2), latencyP50ms: result.latency.p50, latencyP99ms: result.latency.p99, non2xx: result.non2xx, errors: result.errors, total: result.requests.total };
}

async function json(response) {
  const body = await response.json();
  if (!response.ok) {
    throw new Error(`${response.status} ${JSON.stringify(body)}`);
  }
  return body;
}

/** A server on a fresh engine with auditing on or off, its administrator and a project member with a password. */
async function startVariant(dist, uri, audit) {
  const config = dist.loadConfig({ MONGODB_URI: uri, MONGODB_DATABASE: 'bench_audit', ADMIN_EMAIL, ADMIN_PASSWORD, RATE_LIMIT: 'off', DATA_DIR: join(root, 'data', 'bench-audit'), OUTBOX_POLL_MS: '0' });
  const app = await dist.buildApp(config, { embedded: true, logger: false, audit });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${app.server.address().port}/`;
  const admin = await signIn(base, ADMIN_EMAIL, ADMIN_PASSWORD);
  const headers = { authorization: `Bearer ${admin.access}`, 'content-type': 'application/fhir+json' };
  const project = await fetch(`${base}fhir/R4/Project`, { method: 'POST', headers, body: JSON.stringify({ resourceType: 'Project', name: 'Audit bench' }) }).then(json);
  await fetch(`${base}fhir/R4/Project/${project.id}/$invite`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ resourceType: 'Practitioner', scope: 'project', firstName: 'Bench', lastName: 'Member', email: MEMBER_EMAIL, password: MEMBER_PASSWORD, sendEmail: false }),
  }).then(json);
  return { app, base, admin, project: project.id };
}

/** One case (login or invite) on a fresh engine and server with auditing on or off. */
async function runCase(dist, name, audit) {
  const engine = await dist.startEmbeddedEngine();
  try {
    const { app, base, admin, project } = await startVariant(dist, engine.uri, audit);
    let result;
    if (name === 'login') {
      const body = JSON.stringify({ email: MEMBER_EMAIL, password: MEMBER_PASSWORD, projectId: project });
      result = await measure(['-m', 'POST', '-H', 'content-type=application/json', '-b', body, `${base}auth/login`]);
    } else {
      const body = JSON.stringify({ resourceType: 'Practitioner', firstName: 'Bench', lastName: 'Person', email: 'audit-bench-[<id>]@example.com' });
      result = await measure(['-m', 'POST', '-I', '-b', body, '-H', `authorization=Bearer ${admin.access}`, '-H', 'content-type=application/fhir+json', `${base}fhir/R4/Project/${project}/$invite`]);
    }
    await app.ctx.audit.drain();
    result.events = await app.ctx.database.db.collection('AuditEvent').countDocuments({});
    await app.close();
    return result;
  } finally {
    await engine.stop();
  }
}

const middle = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main() {
  const dist = loadDist(root);
  const rounds = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? [false, true] : [true, false];
    const result = { login: {}, invite: {} };
    for (const name of ['login', 'invite']) {
      for (const audit of order) {
        result[name][audit ? 'on' : 'off'] = await runCase(dist, name, audit);
      }
    }
    rounds.push(result);
  }
  const caseOf = (name) => {
    const ratios = rounds.map((r) => r[name].on.requestsPerSecond / r[name].off.requestsPerSecond);
    return {
      on: middle(rounds.map((r) => r[name].on.requestsPerSecond)),
      off: middle(rounds.map((r) => r[name].off.requestsPerSecond)),
      ratio: +middle(ratios).toFixed(2),
      ratios: ratios.map((r) => +r.toFixed(2)),
      failures: rounds.reduce((n, r) => n + r[name].on.non2xx + r[name].on.errors + r[name].off.non2xx + r[name].off.errors, 0),
      eventsOn: rounds.map((r) => r[name].on.events),
      eventsOff: rounds.map((r) => r[name].off.events),
    };
  };
  const results = {
    date: new Date().toISOString(),
    node: process.version,
    seconds: SECONDS,
    rounds: ROUNDS,
    connections: CONNECTIONS,
    goal: GOAL,
    cases: { login: caseOf('login'), invite: caseOf('invite') },
    detail: rounds,
  };
  const outDir = join(root, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'audit.json'), JSON.stringify(results, null, 2));
  const row = (name, c) => `| ${name} | ${c.off} | ${c.on} | ${c.ratio} (${c.ratios.join(', ')}) | ${c.ratio >= GOAL ? 'yes' : 'no'} | ${c.failures} |`;
  const md = [
    `Measured ${results.date} on ${results.node}, embedded engine; ${ROUNDS} rounds of ${SECONDS}s per case and variant, ${CONNECTIONS} connections, each case and variant on a fresh engine and server (the same set-up); load from a separate autocannon process.`,
    '',
    `| case | req/s auditing off | req/s auditing on | ratio on/off, median (rounds) | ≥ ${GOAL} | non-2xx + errors |`,
    '|---|---|---|---|---|---|',
    row('POST /auth/login (project member, password step)', results.cases.login),
    row('POST Project/$invite (new person, welcome email queued)', results.cases.invite),
    '',
    `AuditEvents stored at the end of each round (set-up included), auditing on: sign-in ${results.cases.login.eventsOn.join(', ')}, invite ${results.cases.invite.eventsOn.join(', ')}; auditing off: ${[...results.cases.login.eventsOff, ...results.cases.invite.eventsOff].join(', ')}.`,
    '',
  ].join('\n');
  writeFileSync(join(outDir, 'audit.md'), md);
  process.stdout.write(md);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
