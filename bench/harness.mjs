// The benchmark's machinery: the server and the floor each in a process of its own (bench/child.mjs,
// so that CPU time and memory are that process's only), the load from yet another process
// (autocannon, or bench/flow-load.mjs for request sequences), and the figures.
import { execFileSync, fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const START_WORDS = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts.start.split(/\s+/);
/** The Node flags `npm start` gives the server (package.json), read from there. */
export const SERVER_NODE_FLAGS = START_WORDS.filter((word) => word.startsWith('--'));
/** The environment `npm start` sets for the server (its `NAME=value` words, e.g. MALLOC_ARENA_MAX). */
export const SERVER_ENV = Object.fromEntries(START_WORDS.filter((word) => /^[A-Z_][A-Z0-9_]*=/.test(word)).map((word) => word.split('=')));

/**
 * Starts bench/child.mjs as `role` ('server' or 'floor') on the engine `uri`; answers its handle.
 * The server runs with the Node flags and environment of `npm start` and the image
 * (SERVER_NODE_FLAGS, SERVER_ENV), the floor with Node's defaults. `nodeFlags` replaces either's
 * flags and gives it `npm start`'s environment (to weigh a flag, bench/compare-builds.mjs; a floor
 * with the server's memory caps, bench/run.mjs). `env` is the app's configuration (sent to the
 * child); `processEnv` goes over the child process's environment, `npm start`'s included, a name
 * whose value is undefined taken out (to weigh a glibc setting, bench/compare-builds.mjs).
 */
export async function startChild(role, uri, env = {}, nodeFlags = undefined, processEnv = {}) {
  const runtimeOfServer = role === 'server' || nodeFlags !== undefined;
  const execArgv = ['--expose-gc', ...(nodeFlags ?? (role === 'server' ? SERVER_NODE_FLAGS : []))];
  const childEnv = { ...process.env, ...(runtimeOfServer ? SERVER_ENV : {}), ...processEnv };
  for (const name of Object.keys(processEnv).filter((key) => processEnv[key] === undefined)) {
    delete childEnv[name];
  }
  const child = fork(join(root, 'bench/child.mjs'), [role], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv, env: childEnv });
  let next = 0;
  const pending = new Map();
  child.on('message', ({ id, result, error }) => {
    const waiter = pending.get(id);
    pending.delete(id);
    if (error) {
      waiter?.reject(new Error(`${role}: ${error}`));
    } else {
      waiter?.resolve(result);
    }
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const rpc = (op, args) =>
    new Promise((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve, reject });
      child.send({ id, op, args });
    });
  const started = await rpc('start', { uri, env });
  return {
    ...started,
    pid: child.pid,
    rpc,
    call: (name, ...args) => rpc('call', { name, args }),
    cpu: () => rpc('cpu'),
    /** RSS and heap in MB, after a full garbage collection. */
    memory: async () => {
      await rpc('gc');
      const m = await rpc('memory');
      const mb = (v) => Math.round(v / 1e6);
      return { rssMB: mb(m.rss), heapUsedMB: mb(m.heapUsed), heapTotalMB: mb(m.heapTotal), externalMB: mb(m.external), arrayBuffersMB: mb(m.arrayBuffers) };
    },
    close: async () => (await rpc('close').catch(() => undefined), await exited),
  };
}

/** Runs a node script with `args` in its own process (on CPU `cpu` only, when given); answers its stdout parsed as JSON. */
function runJson(script, args, cpu = undefined) {
  return new Promise((resolve, reject) => {
    const command = [process.execPath, script, ...args];
    const pinned = cpu === undefined ? command : ['taskset', '-c', String(cpu), ...command];
    const child = spawn(pinned[0], pinned.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`${script} exited with ${code}`))));
  });
}

/** One autocannon run in its own process (on CPU `cpu` only, when given); answers its JSON result. */
export const autocannon = (args, cpu = undefined) => runJson(join(root, 'node_modules/autocannon/autocannon.js'), ['-j', ...args], cpu);

/** Keeps process `pid` (every thread) and its descendants on CPU `cpu` (Linux, taskset). */
export function pinProcessTree(pid, cpu) {
  execFileSync('taskset', ['-apc', String(cpu), String(pid)], { stdio: 'ignore' });
  let children = [];
  try {
    children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch {
    // pgrep exits 1 when there is no child.
  }
  for (const child of children) {
    pinProcessTree(child, cpu);
  }
}

/** A run of a fixed number of requests (its args hold -a N); see summary(). */
export const autocannonFixed = async (args) => ({ ...(await autocannon(args)), fixedAmount: true });

/** A load of request sequences (bench/flow-load.mjs) in its own process; answers an autocannon-like result. */
export const flowLoad = (input) => runJson(join(root, 'bench/flow-load.mjs'), [JSON.stringify(input)]);

function summary(result) {
  // Slow cases (a few requests a second) keep two decimals. A run of a fixed number of requests
  // (autocannon -a) reports its duration in whole seconds: its rate is then connections / mean
  // latency (a closed loop: each connection sends its next request when the last is answered).
  const fixed = result.fixedAmount && result.connections && result.latency.mean > 0;
  const perSecond = fixed ? (result.connections * 1000) / result.latency.mean : result.requests.total / Math.max(result.duration, 0.001);
  return {
    requestsPerSecond: perSecond < 20 ? +perSecond.toFixed(2) : Math.round(result.requests.average),
    latencyP50ms: result.latency.p50,
    latencyP99ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    total: result.requests.total,
  };
}

/** Runs `load()` (answering an autocannon result) against `target`; CPU µs per request of the target's process. */
export async function measure(target, load) {
  const before = await target.cpu();
  const result = await load();
  const after = await target.cpu();
  const cpu = after.user - before.user + after.system - before.system;
  return { ...summary(result), cpuUsPerRequest: Math.round(cpu / Math.max(1, result.requests.total)) };
}

export const middle = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** The median round (by req/s), with the failures of every round. */
function median(runs) {
  const picked = [...runs].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond)[Math.floor(runs.length / 2)];
  const sum = (key) => runs.reduce((total, run) => total + run[key], 0);
  return { ...picked, cpuUsPerRequest: middle(runs.map((r) => r.cpuUsPerRequest)), non2xx: sum('non2xx'), errors: sum('errors'), total: sum('total') };
}

/** Server and floor rounds run one after the other: the ratio is the median of each pair's ratio. */
export function compareRounds(appRuns, floorRuns) {
  const ratio = middle(appRuns.map((run, i) => run.requestsPerSecond / floorRuns[i].requestsPerSecond));
  const app = median(appRuns);
  const floor = median(floorRuns);
  return { app, floor, ratio: +ratio.toFixed(2), cpuOverUs: app.cpuUsPerRequest - floor.cpuUsPerRequest };
}

/** Alternating rounds of `floorLoad` against the floor and `appLoad` against the server. */
export async function rounds(count, server, floor, appLoad, floorLoad) {
  const app = [];
  const thin = [];
  for (let round = 0; round < count; round++) {
    thin.push(await measure(floor, floorLoad));
    app.push(await measure(server, appLoad));
  }
  return compareRounds(app, thin);
}
