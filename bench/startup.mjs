// Start-up time: `node dist/server.js` (what npm start runs) with MONGODB_URI set (the engine is already running, so
// its own start is not counted), from the process's spawn to the first /healthcheck 200. On an
// empty database (indexes and the first administrator are created) and on an existing one.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { root, middle, SERVER_ENV, SERVER_NODE_FLAGS } from './harness.mjs';

const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 5);

const freePort = () =>
  new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });

async function startOnce(uri, database) {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, join(process.env.BENCH_APP_ROOT ?? root, 'dist/server.js')], {
    env: { ...process.env, ...SERVER_ENV, MONGODB_URI: uri, MONGODB_DATABASE: database, PORT: String(port), HOST: '127.0.0.1', ADMIN_EMAIL: 'startup@example.com', ADMIN_PASSWORD: 'startup-password-1234', OUTBOX_POLL_MS: '0', SUBSCRIPTION_POLL_MS: '0', LOG_LEVEL: 'warn', DATA_DIR: join(root, 'data', 'bench') },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    for (;;) {
      if (child.exitCode !== null) {
        throw new Error(`the server exited with ${child.exitCode}`);
      }
      const ok = await fetch(`http://127.0.0.1:${port}/healthcheck`).then((r) => r.status === 200, () => false);
      if (ok) {
        return Math.round(performance.now() - started);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.on('exit', resolve)));
  }
}

/** Median start-up times in ms: `emptyMs` (a new database each run) and `restartMs` (the same one again). */
export async function measureStartup(dist) {
  const engine = await dist.startEmbeddedEngine();
  try {
    const empty = [];
    const restart = [];
    for (let i = 0; i < RUNS; i++) {
      empty.push(await startOnce(engine.uri, `bench_startup_${i}`));
      restart.push(await startOnce(engine.uri, `bench_startup_${i}`));
    }
    return { runs: RUNS, emptyMs: middle(empty), restartMs: middle(restart), empty, restart };
  } finally {
    await engine.stop();
  }
}
