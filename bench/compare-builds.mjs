// Compares two builds of the server on one request, to tell whether a change to the request path
// moved its CPU cost: build A is this checkout's dist/, build B another folder's dist/ (a copy
// made before the change, or another checkout, with its node_modules). Each runs in a process of
// its own with `npm start`'s flags (bench/child.mjs), on one engine, with its own database; short
// loads alternate between them after both are warm, so that the machine's drift hits both alike,
// and the medians of the rounds are compared. Usage (after npm run build in both):
//   node bench/compare-builds.mjs /path/to/other/checkout [read|me|search]
// R (default 10) rounds of S (default 2) seconds each; C (default 10) connections. A_FLAGS or
// B_FLAGS (space-separated) replace that side's Node flags: `B_FLAGS='--max-old-space-size=256'
// node bench/compare-builds.mjs . read` weighs a flag on one build; A_ENV or B_ENV (space-separated
// NAME=value words, or -NAME to take one out) go over that side's environment, `npm start`'s
// included (`B_ENV=-MALLOC_TRIM_THRESHOLD_` weighs that setting). PIN=1 (Linux, taskset) keeps
// both servers on CPU 0 and the engine and the load on CPU 1, so that they do not take turns.
// RUNS (default 1) repeats the whole comparison with fresh processes, the side started first
// alternating, and prints the median of the runs' estimates: one process keeps its own luck (what
// the JIT compiled, where its heap lies) through all its rounds, so runs, not rounds, are the samples.
import { resolve } from 'node:path';
import { startChild, autocannon, measure, middle, pinProcessTree, root } from './harness.mjs';
import { loadDist, postSearchables, seedServer } from './fixtures.mjs';

const other = process.argv[2] && resolve(process.argv[2]);
const which = process.argv[3] ?? 'read';
if (!other) {
  console.error('usage: node bench/compare-builds.mjs OTHER_CHECKOUT [read|me|search]');
  process.exit(2);
}
const rounds = Number(process.env.R ?? 10);
const seconds = process.env.S ?? '2';
const connections = process.env.C ?? '10';
const runs = Math.max(1, Number(process.env.RUNS ?? 1));

const dist = loadDist(root);
const engine = await dist.startEmbeddedEngine();
const pin = process.env.PIN === '1';
const loadCpu = pin ? 1 : undefined;
if (pin) {
  pinProcessTree(engine.pid, 1);
}
/** `NAME=value` words as an environment; `-NAME` takes NAME out (undefined). */
const envOf = (words) =>
  Object.fromEntries(
    (words ?? '')
      .split(/\s+/)
      .filter(Boolean)
      .map((word) => (word.startsWith('-') ? [word.slice(1), undefined] : [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)])),
  );
const sides = [
  ['A (this checkout)', root, 'compare_a', process.env.A_FLAGS, process.env.A_ENV],
  [`B (${other})`, other, 'compare_b', process.env.B_FLAGS, process.env.B_ENV],
];

/** Starts one side's server (run `runIndex`, a database of its own) and seeds it; answers its load target. */
async function startSide([name, appRoot, database, flags, env], runIndex) {
  const label = `${name}${flags === undefined ? '' : `, flags ${flags}`}${env === undefined ? '' : `, env ${env}`}`;
  // The child's loadDist reads BENCH_APP_ROOT: that side's dist/, with its env over npm start's.
  const processEnv = { ...envOf(env), BENCH_APP_ROOT: appRoot };
  const server = await startChild('server', engine.uri, { MONGODB_DATABASE: `${database}_${runIndex}` }, flags?.split(/\s+/).filter(Boolean), processEnv);
  if (pin) {
    pinProcessTree(server.pid, 0);
  }
  const seeded = await seedServer(server.base);
  if (which === 'search') {
    await postSearchables(server.base, seeded.admin, seeded.project);
  }
  const target = {
    read: [`-H`, `authorization=Bearer ${seeded.admin.access}`, `${server.base}fhir/R4/Patient/${seeded.patient.id}`],
    me: [`-H`, `authorization=Bearer ${seeded.member.access}`, `${server.base}auth/me`],
    search: [`-H`, `authorization=Bearer ${seeded.admin.access}`, `${server.base}fhir/R4/Patient?name=Searchable&_count=20`],
  }[which];
  return { label, server, args: ['-c', connections, ...target], runs: [] };
}

/**
 * One run: a fresh process per side (started in `order`), both warmed, then `rounds` alternating
 * loads. Answers [A, B] with the CPU µs per request of each round.
 */
async function oneRun(runIndex, order) {
  const started = [];
  try {
    for (const side of order) {
      started.push({ side, build: await startSide(side, runIndex) });
    }
    const builds = sides.map((side) => started.find((s) => s.side === side).build);
    // Warm both (JIT, pools), then alternate.
    for (const build of builds) {
      await autocannon(['-d', '2', ...build.args], loadCpu);
    }
    for (let round = 0; round < rounds; round++) {
      for (const build of round % 2 === 0 ? builds : [...builds].reverse()) {
        const run = await measure(build.server, () => autocannon(['-d', seconds, ...build.args], loadCpu));
        if (run.non2xx > 0 || run.errors > 0) {
          throw new Error(`${build.label}: ${run.non2xx} non-2xx answers, ${run.errors} errors`);
        }
        build.runs.push(run);
      }
    }
    return builds.map((build) => ({ label: build.label, cpu: middle(build.runs.map((r) => r.cpuUsPerRequest)), rate: middle(build.runs.map((r) => r.requestsPerSecond)), cpus: build.runs.map((r) => r.cpuUsPerRequest) }));
  } finally {
    for (const { build } of started) {
      await build.server.close();
    }
  }
}

try {
  const estimates = [];
  for (let runIndex = 0; runIndex < runs; runIndex++) {
    // Which side starts first alternates between runs (with RUNS > 1).
    const [a, b] = await oneRun(runIndex, runIndex % 2 === 0 ? sides : [...sides].reverse());
    if (runs > 1) {
      console.log(`run ${runIndex + 1} of ${runs}:`);
    }
    for (const build of [a, b]) {
      console.log(`${build.label}: median ${build.cpu} µs CPU per request, ${build.rate} req/s; rounds ${build.cpus.join(' ')}`);
    }
    // Each round's pair ran back to back: the median of the pairs' differences is the estimate.
    const differences = a.cpus.map((cpu, i) => cpu - b.cpus[i]);
    const wins = differences.filter((d) => d < 0).length;
    estimates.push(middle(differences));
    console.log(`A - B: ${middle(differences)} µs CPU per request (median of the rounds' differences); A cheaper in ${wins} of ${rounds} rounds`);
  }
  if (runs > 1) {
    // A process keeps its luck through all its rounds: the runs, each with fresh processes, are the samples.
    const sorted = [...estimates].sort((x, y) => x - y);
    const half = Math.floor(sorted.length / 2);
    const median = sorted.length % 2 ? sorted[half] : (sorted[half - 1] + sorted[half]) / 2;
    console.log(`A - B over ${runs} runs with fresh processes: ${estimates.join(', ')} µs; median ${median} µs`);
  }
} finally {
  await engine.stop();
}
