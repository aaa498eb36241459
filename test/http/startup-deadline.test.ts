import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STARTUP_DEADLINE_TIMEOUTS, watchStartup } from '../../src/http/startup-deadline';
import { hostPort, startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';

/**
 * A server whose database stops answering during start-up must not wait forever without a word:
 * it names the step it was stuck on and exits 1, so that a supervisor restarts it. The database is
 * the real engine behind a TCP proxy that swallows one kind of message (the connection stays
 * open, no reply ever comes: what the driver cannot time out on its own).
 */

describe('watchStartup', () => {
  test('names the step still running when the deadline passes', async () => {
    const expired: string[] = [];
    const watch = watchStartup({ deadlineMs: 30, onExpired: (message) => expired.push(message) });
    watch.step('creating indexes');
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(expired).toHaveLength(1);
    expect(expired[0]).toMatch(/^FATAL: start-up did not finish within 30 ms \(10 × MONGODB_TIMEOUT_MS\): it was still creating indexes, for \d+ ms\./);
    expect(expired[0]).toMatch(/supervisor restarts the server/);
  });

  test('says nothing once start-up is done in time', async () => {
    const expired: string[] = [];
    const watch = watchStartup({ deadlineMs: 30, onExpired: (message) => expired.push(message) });
    watch.step('opening the port');
    watch.done();
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(expired).toEqual([]);
  });
});

const TIMEOUT_MS = 500;

async function startServer(proxy: TcpProxy): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    MONGODB_URI: proxy.mongodbUri(),
    MONGODB_DATABASE: `startup_deadline_${process.pid}_${proxy.port}`,
    MONGODB_TIMEOUT_MS: String(TIMEOUT_MS),
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: mkdtempSync(join(tmpdir(), 'fis-startup-')),
    ADMIN_PASSWORD: 'correct-horse-battery-staple',
    LOG_LEVEL: 'info',
    OUTBOX_POLL_MS: '0',
  };
  const main = join(__dirname, '..', '..', 'src', 'main.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', main], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  // Never left behind, whatever the test finds.
  const kill = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(kill);
  return { code, stdout, stderr };
}

describe('a server whose database stops answering during start-up', () => {
  let proxy: TcpProxy;
  beforeEach(async () => {
    proxy = await startTcpProxy(hostPort(process.env.TEST_MONGODB_URI as string));
  });
  afterEach(async () => {
    await proxy.close();
  });

  test.each([
    ['createIndexes', 'creating indexes'],
    // The first administrator is created in a transaction: its commit is never answered.
    ['commitTransaction', 'loading the signing key and the first administrator'],
  ])('exits 1 when no reply comes to %s, naming the step (%s)', async (marker, step) => {
    proxy.dropMessages(marker);
    // Exit code 1, not the test's own SIGKILL (which leaves no code): the server gave up itself.
    const { code, stdout, stderr } = await startServer(proxy);

    expect(proxy.dropped).toBeGreaterThan(0);
    expect(code).toBe(1);
    expect(stderr).toContain(`FATAL: start-up did not finish within ${STARTUP_DEADLINE_TIMEOUTS * TIMEOUT_MS} ms`);
    expect(stderr).toContain(`it was still ${step}, for`);
    expect(stdout).not.toMatch(/Server listening/);
  }, 40_000);
});
