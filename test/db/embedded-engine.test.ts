import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { startEmbeddedEngine } from '../../src/db/embedded-engine';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) {
      return true;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
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
