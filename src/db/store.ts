import type { Clock } from '../clock';
import type { Database } from './database';

/**
 * The dependency every plain function that reads or writes the database takes: the database
 * handle and the app's clock (never `new Date()`: tests move time). Built once per app by
 * buildApp; a function that needs more (a mailer, a logger, a lock) takes `Store & { ... }`.
 */
export interface Store {
  database: Database;
  clock: Clock;
}
