import type { ClientSession } from 'mongodb';
import type { AuditRecord } from './audit-event';

/**
 * What the server calls to record an event (AppContext.audit, and the domains' contexts):
 * - `write`: inside the transaction of the write the event is about (never a change without its
 *   event, nor an event without its change);
 * - `record`: for what is not a write of a resource (a refused sign-in, a 403, a 429): never
 *   waits, never fails the request; a failed insert is logged at error level and counted (the
 *   count is in GET /healthcheck as `auditFailures`).
 * Both do nothing when the trail is off (AppDeps.audit === false, for the benchmark's baseline).
 */
export interface AuditTrail {
  readonly enabled: boolean;
  write(session: ClientSession, record: AuditRecord): Promise<void>;
  record(record: AuditRecord): void;
  /** How many events could not be written since start. */
  failures(): number;
  /** Resolves once every `record` started so far has settled (tests, shutdown). */
  drain(): Promise<void>;
}
