import { mkdirSync } from 'node:fs';
import { buildApp } from './app';
import { ConfigError, loadConfig, type AppConfig } from './config';
import { startEmbeddedEngine, type EmbeddedEngine } from './db/embedded-engine';
import { STARTUP_DEADLINE_TIMEOUTS, watchStartup } from './http/startup-deadline';

/** How long a dying server waits for requests in flight before it exits anyway. */
const EXIT_GRACE_MS = 3000;

/** Process entry: config, database (embedded when MONGODB_URI is unset), app, listen, shutdown. */
async function main(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  mkdirSync(config.dataDir, { recursive: true });

  let engine: EmbeddedEngine | undefined;
  if (!config.mongodbUri) {
    try {
      engine = await startEmbeddedEngine();
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n`);
      process.exit(1);
    }
    config = { ...config, mongodbUri: engine.uri };
  }

  // The embedded engine keeps its data in memory: once it dies, this server can never serve
  // again. Say so loudly and exit non-zero, so that a supervisor starts a fresh one.
  const running: { close?: () => Promise<void>; log?: (message: string) => void } = {};
  engine?.onUnexpectedExit((detail) => {
    const message =
      `FATAL: the embedded ${engine.kind} database engine (pid ${engine.pid ?? 'unknown'}) stopped unexpectedly (${detail}); ` +
      'its in-memory data is gone. Exiting with status 1 so that a supervisor restarts the server.';
    process.stderr.write(`${message}\n`);
    running.log?.(message);
    process.exitCode = 1;
    const force = setTimeout(() => process.exit(1), EXIT_GRACE_MS);
    force.unref();
    void (running.close?.() ?? Promise.resolve()).catch(() => undefined).finally(() => process.exit(1));
  });

  // A start-up stuck on a database that stopped answering ends loudly instead of never listening.
  const startup = watchStartup({
    deadlineMs: STARTUP_DEADLINE_TIMEOUTS * config.mongodbTimeoutMs,
    onExpired: (message) => {
      process.stderr.write(`${message}\n`);
      setTimeout(() => process.exit(1), EXIT_GRACE_MS).unref();
      void (engine?.stop() ?? Promise.resolve()).catch(() => undefined).finally(() => process.exit(1));
    },
  });
  const app = await buildApp(config, { embedded: engine !== undefined, onStartupStep: startup.step });
  running.close = () => app.close();
  running.log = (message) => app.log.fatal({ engine: engine?.kind, enginePid: engine?.pid }, message);
  if (engine) {
    app.log.warn(
      { engine: engine.kind, enginePid: engine.pid },
      `Running on the embedded in-memory ${engine.kind} engine: data is NOT kept when the server stops. ` +
        'It is for development and tests; set MONGODB_URI to a MongoDB replica set for real use.',
    );
  }

  let closing = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (closing) {
      return;
    }
    closing = true;
    app.log.info({ signal }, 'shutting down: no new connections, finishing requests in flight');
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    try {
      await app.close();
      await engine?.stop();
    } finally {
      process.exit(0);
    }
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('uncaughtException', (err) => {
    app.log.fatal({ err }, 'uncaught exception');
    void engine?.stop().finally(() => process.exit(1));
  });

  startup.step('opening the port');
  await app.listen({ port: config.port, host: config.host });
  startup.done();
  app.log.info(`FHIR base ${config.baseUrl}fhir/R4 (API docs at ${config.baseUrl}docs)`);
}

void main();
