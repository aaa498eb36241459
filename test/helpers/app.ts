import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../../src/app-context';
import { buildApp } from '../../src/app';
import type { Clock } from '../../src/clock';
import { loadConfig, type AppConfig } from '../../src/config';
import { DISPATCH_COLLECTION } from '../../src/email/dispatch-state';
import { OUTBOX_COLLECTION } from '../../src/email/outbox';
import { historyCollection, STORED_TYPES } from '../../src/fhir/resource-types';

export const ADMIN_EMAIL = 'admin@example.com';
export const ADMIN_PASSWORD = 'correct-horse-battery-staple';

export interface TestApp {
  app: FastifyInstance;
  config: AppConfig;
  close(): Promise<void>;
}

/** A clock tests can move. */
export class TestClock implements Clock {
  constructor(private current = new Date('2026-01-15T12:00:00.000Z')) {}
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
  set(date: Date): void {
    this.current = new Date(date);
  }
}

export interface TestAppOptions extends Omit<AppDeps, 'database'> {
  /** Extra environment variables for loadConfig (e.g. SMTP_URL). */
  env?: Record<string, string>;
}

/** Builds an app on its own fresh database of the shared test engine. */
export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const uri = process.env.TEST_MONGODB_URI;
  if (!uri) {
    throw new Error('TEST_MONGODB_URI is not set: run through jest (global setup starts the engine)');
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'fis-test-'));
  const config = loadConfig({
    MONGODB_URI: uri,
    MONGODB_DATABASE: `t_${randomBytes(6).toString('hex')}`,
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    DATA_DIR: dataDir,
    BASE_URL: 'http://localhost:8103/',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    OUTBOX_POLL_MS: '50',
    RATE_LIMIT: 'off',
    ...options.env,
  });
  const embedded = !process.env.MONGODB_URI;
  const app = await buildApp(config, { logger: options.logger, clock: options.clock, mailTransport: options.mailTransport, changeListeners: options.changeListeners, audit: options.audit, embedded });
  await app.ready();
  return { app, config, close: () => app.close() };
}

/** Collections the server writes besides the resource collections. */
export const INTERNAL_COLLECTIONS = ['activations', 'admin_guards', 'bootstrap', 'conditional_guards', 'credentials', 'idempotency', 'invite_resends', 'keys', 'logins', 'outbox', 'outbox_dispatch', 'security_events', 'subscription_lanes', 'subscription_notifications', 'subscription_owners'];

export interface SnapshotOptions {
  /**
   * For a suite where mail enqueued earlier may still be on its way: the background dispatcher
   * then writes its delivery state (`outbox_dispatch`, left out) and may purge its body once
   * sent (so `outbox` is compared by id only: a mail the request under test enqueued still shows).
   */
  mailInFlight?: boolean;
}

/**
 * Everything in the app's database: for "nothing was written" assertions. The embedded engine
 * cannot list collections, so the list is explicit: every resource and history collection and
 * the internal ones above.
 */
export async function snapshotDatabase(app: FastifyInstance, options: SnapshotOptions = {}): Promise<Record<string, unknown[]>> {
  const db = app.ctx.database.db;
  // AuditEvents are left out: refusals record one (without waiting); test/audit/ checks them.
  const names = [...STORED_TYPES.filter((type) => type !== 'AuditEvent'), ...STORED_TYPES.map(historyCollection), ...INTERNAL_COLLECTIONS].sort();
  const result: Record<string, unknown[]> = {};
  for (const name of names) {
    result[name] = await db.collection(name).find({}).sort({ _id: 1 }).toArray();
  }
  if (options.mailInFlight) {
    delete result[DISPATCH_COLLECTION];
    result[OUTBOX_COLLECTION] = (result[OUTBOX_COLLECTION] as { _id: string }[]).map((doc) => doc._id);
  }
  return result;
}
