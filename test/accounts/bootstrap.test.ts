import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app';
import { loadConfig } from '../../src/config';
import { signIn } from '../helpers/auth';

/** Several app instances on ONE database, as several server processes would be. */
describe('first start: super administrator and signing keys', () => {
  const apps: FastifyInstance[] = [];
  const dbName = `t_${randomBytes(6).toString('hex')}`;
  const lines: string[] = [];
  const logger = {
    level: 'info',
    stream: new Writable({
      write(chunk, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    }),
  };

  function config(env: Record<string, string> = {}) {
    return loadConfig({
      MONGODB_URI: process.env.TEST_MONGODB_URI as string,
      MONGODB_DATABASE: dbName,
      ADMIN_EMAIL: 'root@example.com',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'fis-test-')),
      OUTBOX_POLL_MS: '0',
      RATE_LIMIT: 'off',
      ...env,
    });
  }

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
  });

  test('instances starting together create one administrator and one key; the generated password is logged once', async () => {
    const started = await Promise.all([buildApp(config(), { logger }), buildApp(config(), { logger })]);
    apps.push(...started);
    const db = started[0].ctx.database.db;
    expect(await db.collection('User').countDocuments({})).toBe(1);
    expect(await db.collection('Project').countDocuments({})).toBe(1);
    expect(await db.collection('ProjectMembership').countDocuments({})).toBe(1);
    expect(await db.collection('Practitioner').countDocuments({})).toBe(1);
    expect(await db.collection('keys').countDocuments({})).toBe(1);

    const announced = lines.filter((l) => l.includes('GENERATED password'));
    expect(announced).toHaveLength(1);
    const password = /GENERATED password: (\S+) /.exec(announced[0])?.[1] as string;
    expect(password.length).toBeGreaterThanOrEqual(16);

    const user = (await db.collection('User').findOne({}))?.resource;
    expect(user).toMatchObject({ resourceType: 'User', email: 'root@example.com', admin: true });
    expect(user.project).toBeUndefined();
    expect(JSON.stringify(user)).not.toMatch(/password/i);
    const project = (await db.collection('Project').findOne({}))?.resource;
    expect(project).toMatchObject({ name: 'Super Admin', superAdmin: true });
    const membership = (await db.collection('ProjectMembership').findOne({}))?.resource;
    expect(membership).toMatchObject({ admin: true, user: { reference: `User/${user.id}` }, project: { reference: `Project/${project.id}` } });

    // Signs in on one instance; the token is good on the others (they share the key).
    const session = await signIn(started[0], 'root@example.com', password);
    for (const app of started) {
      expect((await app.inject({ method: 'GET', url: '/auth/me', headers: session.headers })).statusCode).toBe(200);
    }
    // Every log line so far: the password appears only in that one line.
    expect(lines.filter((l) => l.includes(password))).toHaveLength(1);
  });

  test('a later start is idempotent and logs no password', async () => {
    const before = lines.length;
    const again = await buildApp(config({ ADMIN_PASSWORD: 'another-password-1', ADMIN_EMAIL: 'other@example.com' }), { logger });
    apps.push(again);
    const db = again.ctx.database.db;
    expect(await db.collection('User').countDocuments({})).toBe(1);
    expect(lines.slice(before).some((l) => /password/i.test(l) && l.includes('Created'))).toBe(false);
  });

  test('ADMIN_PASSWORD is used and never logged', async () => {
    const other = await buildApp(
      loadConfig({
        MONGODB_URI: process.env.TEST_MONGODB_URI as string,
        MONGODB_DATABASE: `t_${randomBytes(6).toString('hex')}`,
        ADMIN_EMAIL: 'chosen@example.com',
        ADMIN_PASSWORD: 'chosen-password-42',
        DATA_DIR: mkdtempSync(join(tmpdir(), 'fis-test-')),
        OUTBOX_POLL_MS: '0',
      }),
      { logger },
    );
    apps.push(other);
    expect(lines.some((l) => l.includes('chosen-password-42'))).toBe(false);
    expect(lines.some((l) => l.includes('Created the super administrator chosen@example.com'))).toBe(true);
    await expect(signIn(other, 'chosen@example.com', 'chosen-password-42')).resolves.toMatchObject({ accessToken: expect.any(String) });
  });
});
