// The embedded engine's limits, measured: the cost of one insert (alone, and in a transaction like
// the server's writes), of a query on an indexed field, and of an empty transaction, with the
// Patient collection (the server's indexes) at several sizes. Writes bench/results/engine-limits.json
// and prints a table. Usage (after npm run build): node bench/engine-limits.mjs [SIZES, e.g. 0,1000,2000,5000]
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadDist } from './fixtures.mjs';
import { middle, root } from './harness.mjs';

const require = createRequire(import.meta.url);
const { MongoClient } = require('mongodb');
const SIZES = (process.argv[2] ?? '0,1000,2000,5000').split(',').map(Number);
const SAMPLES = 7;

const patient = (i) => {
  const id = `p-${i}`;
  const name = [{ given: ['Limit'], family: `Probe${i}` }];
  const now = new Date();
  return {
    _id: id,
    project: 'limits',
    version: 1,
    lastUpdated: now,
    deleted: false,
    resource: { resourceType: 'Patient', id, meta: { project: 'limits', versionId: '1', lastUpdated: now.toISOString() }, name, gender: 'female', birthDate: '1990-01-01' },
    sp: { name: [{ n: `limit probe${i}`, v: `Limit Probe${i}` }, { n: 'limit', v: 'Limit' }, { n: `probe${i}`, v: `Probe${i}` }], family: [{ n: `probe${i}`, v: `Probe${i}` }], given: [{ n: 'limit', v: 'Limit' }], gender: ['female'], birthdate: [{ s: new Date('1990-01-01'), e: new Date('1990-01-02') }] },
  };
};

async function timed(fn) {
  const runs = [];
  for (let i = 0; i < SAMPLES; i++) {
    const start = performance.now();
    await fn(i);
    runs.push(performance.now() - start);
  }
  return +middle(runs).toFixed(2);
}

const dist = loadDist(root);
const engine = await dist.startEmbeddedEngine();
const client = new MongoClient(engine.uri);
const rows = [];
try {
  await client.connect();
  const db = client.db('bench_limits');
  await dist.ensureIndexes({ db });
  const patients = db.collection('Patient');
  let have = 0;
  let probe = 1e6;
  for (const size of SIZES) {
    const fillStart = performance.now();
    while (have < size) {
      const batch = Array.from({ length: Math.min(500, size - have) }, (_, i) => patient(have + i));
      await patients.insertMany(batch);
      have += batch.length;
    }
    const fillMs = Math.round(performance.now() - fillStart);
    const insertMs = await timed(async () => patients.insertOne(patient(probe++)));
    const transactionInsertMs = await timed(async () => {
      const session = client.startSession();
      try {
        await session.withTransaction(() => patients.insertOne(patient(probe++), { session }));
      } finally {
        await session.endSession();
      }
    });
    const emptyTransactionMs = await timed(async () => {
      const session = client.startSession();
      try {
        await session.withTransaction(() => patients.findOne({ _id: 'p-0' }, { session }));
      } finally {
        await session.endSession();
      }
    });
    const findByIdMs = await timed(async () => patients.findOne({ _id: `p-${Math.floor(size / 2)}` }));
    const findIndexedMs = await timed(async () => patients.find({ project: 'limits', 'sp.name.n': { $regex: '^probe1' } }).sort({ lastUpdated: -1, _id: -1 }).limit(21).toArray());
    const row = { documents: await patients.countDocuments({}), fillMs, insertMs, transactionInsertMs, emptyTransactionMs, findByIdMs, findIndexedMs };
    rows.push(row);
    console.log(JSON.stringify(row));
    have = row.documents;
  }
} finally {
  await client.close();
  await engine.stop();
}
const out = join(root, 'bench', 'results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'engine-limits.json'), JSON.stringify({ date: new Date().toISOString(), engine: engine.kind, samples: SAMPLES, rows }, null, 2));
console.log('\n| Patients | insert (ms) | insert in a transaction (ms) | transaction reading one document (ms) | find by _id (ms) | name-prefix search, 21 newest (ms) |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.documents} | ${r.insertMs} | ${r.transactionInsertMs} | ${r.emptyTransactionMs} | ${r.findByIdMs} | ${r.findIndexedMs} |`);
}
