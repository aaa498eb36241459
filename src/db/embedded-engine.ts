import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** A running development database engine that lives and dies with this process. */
export interface EmbeddedEngine {
  uri: string;
  kind: 'jongodb' | 'mongodb-memory-server';
  /** The engine's process id, when known. */
  pid?: number;
  /**
   * Calls `listener` once if the engine stops without `stop()` being called (killed, crashed).
   * Its data is then gone: the server exits so that a supervisor starts it afresh.
   */
  onUnexpectedExit(listener: (detail: string) => void): void;
  stop(): Promise<void>;
}

/** Remembers listeners and calls them once, unless the engine is being stopped on purpose. */
class ExitWatch {
  private readonly listeners: ((detail: string) => void)[] = [];
  private reported?: string;
  stopping = false;

  add(listener: (detail: string) => void): void {
    this.listeners.push(listener);
    if (this.reported !== undefined) {
      listener(this.reported);
    }
  }

  exited(detail: string): void {
    if (this.stopping || this.reported !== undefined) {
      return;
    }
    this.reported = detail;
    for (const listener of this.listeners) {
      listener(detail);
    }
  }
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `killed by ${signal}` : `exit code ${code}`;
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
const PID = /JONGODB_PID=(\d+)/;
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
 * The shell guard jongodb runs under. A reader kills the engine when our stdin pipe closes, so
 * the engine never outlives this process, even after a SIGKILL; the guard itself waits for the
 * engine, so it exits (and we hear of it) when the engine dies on its own. Its exit status is
 * the engine's ($? of `wait`: 128 + signal number when killed).
 */
const GUARD = [
  'exec 3<&0',
  '"$0" --port=0 </dev/null & child=$!',
  'echo "JONGODB_PID=$child"',
  '( read _eof <&3; kill $child 2>/dev/null ) & reader=$!',
  "trap 'kill $child $reader 2>/dev/null' EXIT INT TERM HUP",
  'wait $child',
].join('\n');

/** Starts jongodb on a free loopback port, under GUARD. */
function startJongodb(bin: string, timeoutMs: number): Promise<EmbeddedEngine> {
  const child: ChildProcess = spawn('/bin/sh', ['-c', GUARD, bin], { stdio: ['pipe', 'pipe', 'pipe'] });
  const watch = new ExitWatch();
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
        const pid = PID.exec(output)?.[1];
        resolvePromise({
          uri,
          kind: 'jongodb',
          pid: pid ? Number(pid) : undefined,
          onUnexpectedExit: (listener) => watch.add(listener),
          stop: () => {
            watch.stopping = true;
            return stopChild(child);
          },
        });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      // The guard exits with the engine's status (128 + n when the engine was killed by signal n).
      const detail = code !== null && code > 128 ? `killed by signal ${code - 128}` : describeExit(code, signal);
      reject(new EngineUnavailableError(`jongodb exited (${detail})`));
      watch.exited(detail);
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
  type ReplSet = { getUri(): string; stop(): Promise<boolean>; servers: { instanceInfo?: { instance: { mongodProcess?: ChildProcess } } }[] };
  let mod: { MongoMemoryReplSet: { create(opts: object): Promise<ReplSet> } };
  try {
    mod = localRequire('mongodb-memory-server-core');
  } catch {
    throw new EngineUnavailableError('neither jongodb (Linux x64 only) nor mongodb-memory-server-core is installed');
  }
  try {
    const replSet = await mod.MongoMemoryReplSet.create({ replSet: { count: 1, storageEngine: 'wiredTiger' } });
    const watch = new ExitWatch();
    const mongod = replSet.servers[0]?.instanceInfo?.instance.mongodProcess;
    mongod?.on('exit', (code, signal) => watch.exited(describeExit(code, signal)));
    return {
      uri: replSet.getUri(),
      kind: 'mongodb-memory-server',
      pid: mongod?.pid,
      onUnexpectedExit: (listener) => watch.add(listener),
      stop: async () => {
        watch.stopping = true;
        await replSet.stop();
      },
    };
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
