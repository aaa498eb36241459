// The read by id and its floor in ONE process, alternating short loads after all are warm, to see
// how much of the read's gap to the floor comes from the floor running alone in its process (its
// driver and Fastify code exercised one way only). Cases, all on the same Patient:
//   floor  the floor's GET /read/:id (its own Fastify and MongoClient)
//   raw    a route added to the server's app doing only the floor's findOne (every hook, the log
//          line; no auth, no access policy), on the server's client
//   other  the same route on a client of its own
//   read   the server's GET /fhir/R4/Patient/{id} as the super administrator
// Usage (after npm run build): node bench/same-process.mjs     S=3 (seconds per load) R=4 (rounds)
// CASES=floor,read picks cases. Prints each round's CPU µs per request and the medians.
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { benchConfig, benchLogger, loadDist, seedServer } from './fixtures.mjs';
import { startFloor } from './floor.mjs';
import { autocannon, middle, root } from './harness.mjs';
const require = createRequire(import.meta.url);
const { MongoClient } = require('mongodb');
const seconds = process.env.S ?? '3';
const rounds = +(process.env.R ?? 4);
const dist = loadDist(root);
const engine = await dist.startEmbeddedEngine();
const config = benchConfig(dist, engine.uri, join(root, 'data', 'bench'));
const app = await dist.buildApp(config, { embedded: true, logger: benchLogger(dist, config) });
const other = new MongoClient(engine.uri); await other.connect();
const proj = { projection: { sp: 0, uk: 0 } };
app.get('/exp/raw/:id', async (req) => (await app.ctx.database.db.collection('Patient').findOne({ _id: req.params.id }, proj)).resource);
app.get('/exp/other/:id', async (req) => (await other.db('bench_app').collection('Patient').findOne({ _id: req.params.id }, proj)).resource);
await app.listen({ port: 0, host: '127.0.0.1' });
const base = `http://127.0.0.1:${app.server.address().port}/`;
const { admin, patient } = await seedServer(base);
const floor = await startFloor(engine.uri, dist);
let served = 0;
app.server.on('request', () => served++);
floor.server.on('request', () => served++);
const cases = {
  floor: [`${floor.base}read/${patient.id}`],
  raw: [`${base}exp/raw/${patient.id}`],
  other: [`${base}exp/other/${patient.id}`],
  read: ['-H', `authorization=Bearer ${admin.access}`, `${base}fhir/R4/Patient/${patient.id}`],
};
const only = process.env.CASES ? process.env.CASES.split(',') : Object.keys(cases);
const results = Object.fromEntries(only.map((k) => [k, []]));
for (const k of only) await autocannon(['-d', '1', '-c', '10', ...cases[k]]);
for (let r = 0; r < rounds; r++) {
  for (const k of only) {
    served = 0;
    const before = process.cpuUsage();
    await autocannon(['-d', seconds, '-c', '10', ...cases[k]]);
    const cpu = process.cpuUsage(before);
    results[k].push(Math.round((cpu.user + cpu.system) / served));
  }
  console.log(only.map((k) => `${k} ${results[k].at(-1)}`).join('  '));
}
console.log('median', only.map((k) => `${k} ${middle(results[k])}`).join('  '));
await floor.close(); await other.close(); await app.close(); await engine.stop();
