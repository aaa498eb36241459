import type { Clock } from '../clock';
import type { Database } from './database';

/*
 * db/ — database layer: the MongoDB client, the embedded engine, indexes (each domain's specs
 * handed in by app.ts), transactions with what the embedded engine needs (one at a time, an
 * unknown or partial commit settled from its ledger) and the keyed lock. It imports only the base;
 * nothing outside db/ knows which engine runs.
 */

/**
 * The dependency every plain function that reads or writes the database takes: the database
 * handle and the app's clock (never `new Date()`: tests move time). Built once per app by
 * buildApp; a function that needs more (a mailer, a logger, a lock) takes `Store & { ... }`.
 */
export interface Store {
  database: Database;
  clock: Clock;
}
