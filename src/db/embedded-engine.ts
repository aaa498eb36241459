import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** A running development database engine that lives and dies with this process. */
export interface EmbeddedEngine {
  uri: string;
  kind: 'jongodb' | 'mongodb-memory-server';
  stop(): Promise<void>;
}

export class EngineUnavailableError extends Error {
  constructor(detail: string) {
    super(
      `No MongoDB is configured and no embedded engine could start (${detail}). ` +
        'Set MONGODB_URI to a MongoDB replica set, e.g. MONGODB_URI=mongodb://localhost:27017/?replicaSet=rs0',
    );
  }
}

const READY = /JONGODB_URI=(mongodb:\/\/\S+)/;
const localRequire = createRequire(__filename);

function jongodbBinary(): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return undefined;
  }
  try {
    const pkg = localRequire.resolve('@jongodb/memory-server-bin-linux-x64-gnu/package.json');
    const bin = join(dirname(pkg), 'bin', 'jongodb');
    return existsSync(bin) ? bin : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts jongodb on a free loopback port. The binary runs under a tiny shell guard that kills it
 * when our stdin pipe closes, so the engine never outlives this process, even after a SIGKILL.
 */
function startJongodb(bin: string, timeoutMs: number): Promise<EmbeddedEngine> {
  const guard = '"$0" --port=0 & child=$!; trap \'kill $child 2>/dev/null\' EXIT INT TERM HUP; read _eof; kill $child 2>/dev/null; wait $child';
  const child: ChildProcess = spawn('/bin/sh', ['-c', guard, bin], { stdio: ['pipe', 'pipe', 'pipe'] });
  return new Promise((resolvePromise, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new EngineUnavailableError(`jongodb printed no ready line within ${timeoutMs} ms`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = READY.exec(output);
      if (match) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        child.stderr?.resume();
        const base = new URL(match[1]);
        const uri = `mongodb://${base.host}/?directConnection=true`;
        resolvePromise({ uri, kind: 'jongodb', stop: () => stopChild(child) });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new EngineUnavailableError(`jongodb exited with code ${code}`));
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new EngineUnavailableError(`jongodb could not be spawned: ${err.message}`));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve();
  }
  return new Promise((resolvePromise) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolvePromise();
    });
    child.stdin?.end();
  });
}

async function startMongoMemoryServer(): Promise<EmbeddedEngine> {
  let mod: { MongoMemoryReplSet: { create(opts: object): Promise<{ getUri(): string; stop(): Promise<boolean> }> } };
  try {
    mod = localRequire('mongodb-memory-server-core');
  } catch {
    throw new EngineUnavailableError('neither jongodb (Linux x64 only) nor mongodb-memory-server-core is installed');
  }
  try {
    const replSet = await mod.MongoMemoryReplSet.create({ replSet: { count: 1, storageEngine: 'wiredTiger' } });
    return { uri: replSet.getUri(), kind: 'mongodb-memory-server', stop: async () => void (await replSet.stop()) };
  } catch (err) {
    throw new EngineUnavailableError(`mongodb-memory-server failed: ${(err as Error).message}`);
  }
}

/** Starts the embedded engine suited to this platform, or throws EngineUnavailableError. */
export async function startEmbeddedEngine(timeoutMs = 30_000): Promise<EmbeddedEngine> {
  const bin = jongodbBinary();
  if (bin) {
    return startJongodb(bin, timeoutMs);
  }
  return startMongoMemoryServer();
}
