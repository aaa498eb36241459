// Profiles one case of the benchmark: the server runs in this process and the V8 profiler records
// it only while the load runs; the load comes from a separate autocannon process, so the profile
// holds the server's work only. Usage (after npm run build):
//   node bench/profile.mjs CASE [OUT.cpuprofile]     CASE: read-admin | read-member | search | history | me | invite | invite-existing | resend | floor-read | floor-search
//   node bench/top-frames.mjs OUT.cpuprofile         (where the time went)
// BENCH_SECONDS (default 8) sets the load's length; BENCH_PROFILE=0 skips the profiler and prints
// only the server's CPU time per request; BENCH_COMMANDS=1 also counts and times every database
// command the server sends (by command, collection and filter shape); BENCH_ALLOC=1 records where
// the server allocates instead of where it spends time (V8's sampling heap profiler, kept
// objects and those collected since) and prints the bytes per request of the top allocating frames;
// with BENCH_ALLOC_SURVIVORS=1 only the objects that outlived a young-generation collection (what
// the scavenger copies or promotes). BENCH_CONNECTIONS (default 10) sets the connections of read-admin, read-member and floor-read.
// BENCH_PIN=1 (Linux, taskset) keeps this process on CPU 0 and the engine and the load on CPU 1, so
// that they do not take turns on one core: CPU per request varies far less between runs.
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fhirWrite, loadDist, memberReinvite, newPersonInvite, postSearchables, startServer } from './fixtures.mjs';
import { flowLoad, pinProcessTree } from './harness.mjs';
import { startFloor } from './floor.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const which = process.argv[2] ?? 'read-admin';
const out = process.argv[3] ?? join(tmpdir(), `${which}.cpuprofile`);
const seconds = process.env.BENCH_SECONDS ?? '8';

const pin = process.env.BENCH_PIN === '1';
if (pin) {
  execFileSync('taskset', ['-apc', '0', String(process.pid)], { stdio: 'ignore' });
}

function autocannon(args) {
  return new Promise((resolve, reject) => {
    const command = [process.execPath, join(root, 'node_modules/autocannon/autocannon.js'), ...args];
    const child = pin ? spawn('taskset', ['-c', '1', ...command], { stdio: ['ignore', 'inherit', 'inherit'] }) : spawn(command[0], command.slice(1), { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`autocannon exited ${code}`))));
  });
}

const dist = loadDist(root);
const engine = await dist.startEmbeddedEngine();
if (pin) {
  // The engine (and its own children, if any) to CPU 1.
  pinProcessTree(engine.pid, 1);
}
try {
  // BENCH_COMMANDS=1: also time every database command the server sends during the load.
  const monitor = process.env.BENCH_COMMANDS === '1';
  const uri = monitor ? `${engine.uri}&monitorCommands=true` : engine.uri;
  const { app, base, admin, member, patient, project, policy } = await startServer(dist, uri, join(root, 'data', 'bench'));
  const commands = new Map();
  if (monitor) {
    const started = new Map();
    const client = app.ctx.database.client;
    const shape = (value) => (value && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date) ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)])) : '?');
    client.on('commandStarted', (e) => {
      const c = e.command;
      const coll = c[e.commandName];
      const what = c.filter ? JSON.stringify(shape(c.filter)) : c.updates ? JSON.stringify(shape(c.updates[0]?.q)) : c.documents ? `${c.documents.length} doc` : '';
      started.set(e.requestId, { key: `${e.commandName} ${typeof coll === 'string' ? coll : ''} ${what}`, at: performance.now() });
    });
    const done = (e) => {
      const s = started.get(e.requestId);
      if (s) {
        started.delete(e.requestId);
        const entry = commands.get(s.key) ?? { count: 0, ms: 0 };
        entry.count += 1;
        entry.ms += performance.now() - s.at;
        commands.set(s.key, entry);
      }
    };
    client.on('commandSucceeded', done);
    client.on('commandFailed', done);
  }
  if (which.endsWith('search')) {
    // 20 hits, as the benchmark's search case (bench/run.mjs).
    await postSearchables(base, admin, patient.meta.project);
  }
  const pending = [];
  if (which === 'resend') {
    // Pending invitations to resend, each a new person (an invitation may be resent 5 times an hour).
    for (let i = 0; i < 24; i++) {
      const answer = await fhirWrite(base, admin, `Project/${project}/$invite`, newPersonInvite(`resend-${i}@example.com`));
      const membership = answer.parameter?.find((p) => p.name === 'membership')?.resource;
      if (!membership?.id) {
        throw new Error(`invite ${i} answered no membership: ${JSON.stringify(answer).slice(0, 300)}`);
      }
      pending.push(membership.id);
    }
  }
  const floor = await startFloor(engine.uri, dist);
  // BENCH_PROFILE=0: no profiler, only the CPU time per request (less noisy than req/s).
  const allocations = process.env.BENCH_ALLOC === '1';
  const profiling = process.env.BENCH_PROFILE !== '0' && !allocations;
  const session = new Session();
  if (allocations) {
    session.connect();
    await session.post('HeapProfiler.startSampling', { samplingInterval: 128, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: process.env.BENCH_ALLOC_SURVIVORS !== '1' });
  }
  if (profiling) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
  }
  let served = 0;
  app.server.on('request', () => served++);
  floor.server.on('request', () => served++);
  const cpuBefore = process.cpuUsage();
  const connections = process.env.BENCH_CONNECTIONS ?? '10';
  const read = (who) => ['-d', seconds, '-c', connections, '-H', `authorization=Bearer ${who.access}`, `${base}fhir/R4/Patient/${patient.id}`];
  if (which === 'read-admin') {
    await autocannon(read(admin));
  } else if (which === 'read-member') {
    await autocannon(read(member));
  } else if (which === 'invite') {
    const body = JSON.stringify(newPersonInvite('[<id>]@example.com'));
    await autocannon(['-d', seconds, '-c', '4', '-m', 'POST', '-I', '-H', `authorization=Bearer ${admin.access}`, '-H', 'content-type=application/fhir+json', '-b', body, `${base}fhir/R4/Project/${admin.project}/$invite`]);
  } else if (which === 'invite-existing') {
    // The member invited again into its project (upsert, no mail), as the benchmark's case.
    const body = JSON.stringify(memberReinvite(policy));
    await autocannon(['-d', seconds, '-c', '4', '-m', 'POST', '-H', `authorization=Bearer ${admin.access}`, '-H', 'content-type=application/fhir+json', '-b', body, `${base}fhir/R4/Project/${project}/$invite`]);
  } else if (which === 'resend') {
    // As the benchmark's case: the pending invitations in turn (bench/flow-load.mjs), 4 connections.
    await flowLoad({ base, flow: 'resend', token: admin.access, ids: pending, seconds: Number(seconds), connections: 4 });
  } else if (which === 'floor-read') {
    await autocannon(['-d', seconds, '-c', connections, `${floor.base}read/${patient.id}`]);
  } else if (which === 'history') {
    for (let v = 2; v <= 30; v++) {
      await fhirWrite(base, admin, `Patient/${patient.id}`, { ...patient, meta: { project: patient.meta.project }, name: [{ family: `V${v}` }] }, 'PUT');
    }
    served = 0;
    await autocannon(['-d', seconds, '-c', '10', '-H', `authorization=Bearer ${admin.access}`, `${base}fhir/R4/Patient/${patient.id}/_history?_count=20`]);
  } else if (which === 'search' || which === 'floor-search') {
    const url = which === 'search' ? `${base}fhir/R4/Patient?name=Searchable&_count=20` : `${floor.base}search?prefix=Searchable`;
    await autocannon(['-d', seconds, '-c', '10', '-H', `authorization=Bearer ${admin.access}`, url]);
  } else if (which === 'me') {
    await autocannon(['-d', seconds, '-c', '10', '-H', `authorization=Bearer ${member.access}`, `${base}auth/me`]);
  } else {
    throw new Error(`unknown case ${which}`);
  }
  const cpu = process.cpuUsage(cpuBefore);
  console.log(`${which}: ${served} requests, server CPU ${Math.round((cpu.user + cpu.system) / served)} µs per request`);
  if (profiling) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(out, JSON.stringify(profile));
    console.log(`profile written to ${out}`);
  }
  if (allocations) {
    const { profile } = await session.post('HeapProfiler.stopSampling');
    writeFileSync(out.replace(/\.cpuprofile$/, '.heapprofile'), JSON.stringify(profile));
    const bytes = new Map();
    const walk = (node) => {
      const cf = node.callFrame;
      const key = `${cf.functionName || '(anonymous)'} ${cf.url.replace(/^.*node_modules\//, '').replace(/^.*\/dist\//, '')}:${cf.lineNumber + 1}`;
      bytes.set(key, (bytes.get(key) ?? 0) + node.selfSize);
      node.children.forEach(walk);
    };
    walk(profile.head);
    const all = [...bytes.values()].reduce((a, b) => a + b, 0);
    console.log(`\nallocated ${Math.round(all / served)} bytes per request; top frames (bytes per request):`);
    for (const [key, size] of [...bytes].sort((a, b) => b[1] - a[1]).slice(0, 40)) {
      console.log(`${String(Math.round(size / served)).padStart(7)}  ${key}`);
    }
  }
  if (monitor) {
    console.log('\ncount  total ms  mean ms  command');
    for (const [key, { count, ms }] of [...commands].sort((a, b) => b[1].ms - a[1].ms).slice(0, 40)) {
      console.log(`${String(count).padStart(5)} ${ms.toFixed(0).padStart(9)} ${(ms / count).toFixed(2).padStart(8)}  ${key}`);
    }
  }
  await floor.close();
  await app.close();
} finally {
  await engine.stop();
}
