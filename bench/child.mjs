// One process of the benchmark: the server under test or the floor, alone in its process so that
// its CPU time and memory are its own. Started by bench/harness.mjs with an IPC channel; answers
// requests { id, op, args } with { id, result } or { id, error }. Operations: start, cpu, memory,
// gc, call (a named function of the floor), close. Nothing here is part of the product: the
// server is the built app (dist/) as main.ts would build it, reached over HTTP only.
import { performance } from 'node:perf_hooks';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchConfig, benchLogger, loadDist } from './fixtures.mjs';
import { startFloor } from './floor.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const role = process.argv[2];
let target;

const ops = {
  async start({ uri, env }) {
    const dist = loadDist(root);
    if (role === 'server') {
      const config = benchConfig(dist, uri, join(root, 'data', 'bench'), env);
      const app = await dist.buildApp(config, { embedded: true, logger: benchLogger(dist, config) });
      await app.listen({ port: 0, host: '127.0.0.1' });
      target = { close: () => app.close() };
      return { base: `http://127.0.0.1:${app.server.address().port}/`, startedMs: Math.round(performance.now()) };
    }
    // A second floor on the engine writes its documents to a database of its own.
    target = await startFloor(uri, dist, env.FLOOR_DATABASE);
    return { base: target.base };
  },
  cpu: () => process.cpuUsage(),
  memory: () => process.memoryUsage(),
  gc: () => (globalThis.gc ? (globalThis.gc(), true) : false),
  call: ({ name, args }) => target[name](...(args ?? [])),
  async close() {
    await target?.close();
    setTimeout(() => process.exit(0), 0);
    return true;
  },
};

process.on('message', async ({ id, op, args }) => {
  try {
    process.send({ id, result: await ops[op](args ?? {}) });
  } catch (err) {
    process.send({ id, error: String(err?.stack ?? err) });
  }
});
process.on('disconnect', () => process.exit(0));
