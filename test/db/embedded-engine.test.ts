import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { startEmbeddedEngine } from '../../src/db/embedded-engine';
import { waitUntil } from '../helpers/wait';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('embedded engine', () => {
  test('starts on a free loopback port, answers the driver, and stops', async () => {
    const engine = await startEmbeddedEngine();
    expect(engine.uri).toMatch(/^mongodb:\/\/127\.0\.0\.1:\d+/);
    const client = new MongoClient(engine.uri);
    await client.connect();
    const pong = await client.db('x').command({ ping: 1 });
    expect(pong.ok).toBe(1);
    await client.close();
    await engine.stop();
    const after = new MongoClient(engine.uri, { serverSelectionTimeoutMS: 500 });
    await expect(after.connect()).rejects.toThrow();
    await after.close();
  });

  test('leaves no engine process behind when its parent is killed with SIGKILL', async () => {
    const script = `require('${join(__dirname, '..', '..', 'src', 'db', 'embedded-engine.ts').replace(/\\/g, '/')}')
      .startEmbeddedEngine().then((e) => { console.log('URI ' + e.uri); setInterval(() => {}, 1000); });`;
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const uri = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /URI (\S+)/.exec(out);
        if (m) {
          resolve(m[1]);
        }
      });
      child.on('exit', () => reject(new Error(`child exited early: ${out}`)));
    });
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 2000 });
    await client.connect();
    await client.close();
    child.kill('SIGKILL');
    const down = await waitUntil(() => !isAlive(child.pid as number), 5000);
    expect(down).toBe(true);
    // The engine notices its parent is gone and exits: the port stops answering.
    let reachable = true;
    for (let i = 0; i < 40 && reachable; i++) {
      const probe = new MongoClient(uri, { serverSelectionTimeoutMS: 250 });
      reachable = await probe.connect().then(() => true, () => false);
      await probe.close();
      if (reachable) {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    expect(reachable).toBe(false);
  });
});

/** Descendant processes of `pid` (Linux /proc), with their command lines. */
function descendants(pid: number): { pid: number; cmd: string }[] {
  const all = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => {
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return { pid: Number(name), ppid, cmd: readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ') };
      } catch {
        return undefined;
      }
    })
    .filter((p): p is { pid: number; ppid: number; cmd: string } => p !== undefined);
  const found: { pid: number; cmd: string }[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift() as number;
    for (const p of all.filter((x) => x.ppid === parent)) {
      found.push(p);
      queue.push(p.pid);
    }
  }
  return found;
}

// The engine binary (and /proc, to find it) exist on Linux x64 only.
const onJongodb = process.platform === 'linux' && process.arch === 'x64' ? describe : describe.skip;

onJongodb('the server on its embedded engine', () => {
  let server: ChildProcess | undefined;
  afterEach(() => {
    if (server && server.exitCode === null && server.signalCode === null) {
      server.kill('SIGKILL');
    }
  });

  test('exits non-zero, saying why, when its embedded engine dies', async () => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
    Object.assign(env, { PORT: '0', HOST: '127.0.0.1', DATA_DIR: mkdtempSync(join(tmpdir(), 'fis-main-')), ADMIN_PASSWORD: 'correct-horse-battery-staple', LOG_LEVEL: 'info', OUTBOX_POLL_MS: '0' });
    const main = join(__dirname, '..', '..', 'src', 'main.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', main], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    server = child;
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));

    expect(await waitUntil(() => /Server listening at http:\/\/127\.0\.0\.1:\d+/.test(stdout), 30_000)).toBe(true);
    const port = Number(/Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(stdout)?.[1]);
    const health = await fetch(`http://127.0.0.1:${port}/healthcheck`);
    expect(health.status).toBe(200);

    // The engine is the jongodb process below the server (under its shell guard).
    const engine = descendants(child.pid as number).find((p) => /jongodb/.test(p.cmd) && !p.cmd.startsWith('/bin/sh'));
    expect(engine).toBeDefined();
    process.kill((engine as { pid: number }).pid, 'SIGKILL');

    const { code } = await exited;
    expect(code).toBe(1);
    expect(stderr).toMatch(/FATAL: the embedded jongodb database engine \(pid \d+\) stopped unexpectedly \(killed by signal 9\)/);
    expect(stderr).toMatch(/supervisor restarts the server/);
  }, 45_000);
});
