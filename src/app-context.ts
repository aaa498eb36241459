import type { FastifyBaseLogger } from 'fastify';
import type { AuthServices } from './auth/services';
import type { Clock } from './clock';
import type { AppConfig } from './config';
import type { Database } from './db/database';
import type { EmailServices } from './email/services';
import type { Definitions } from './fhir/definitions';

/**
 * The dependencies every domain plugin receives explicitly as its options. Built once per app
 * by buildApp; there are no module-level singletons.
 */
export interface AppContext {
  config: AppConfig;
  database: Database;
  clock: Clock;
  definitions: Definitions;
  log: FastifyBaseLogger;
  auth: AuthServices;
  email: EmailServices;
}

/** What buildApp needs beyond the configuration; all optional, for tests. */
export interface AppDeps {
  /** Use this database instead of connecting to config.mongodbUri; the app will not close it. */
  database?: Database;
  clock?: Clock;
  /** The database is the embedded development engine (reported by /healthcheck). */
  embedded?: boolean;
  /** Overrides how mail leaves the server (default: SMTP_URL or .eml files). */
  mailTransport?: import('./email/services').MailTransport;
  /** A pino-compatible logger configuration or `false`. */
  logger?: boolean | object;
}
