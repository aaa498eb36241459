import type { ProjectMembership } from '@medplum/fhirtypes';
import type { FastifyBaseLogger } from 'fastify';
import type { AuthServices } from './accounts/auth-context';
import type { AccessServices } from './access/resolve';
import type { AuditTrail } from './audit/services';
import type { Clock } from './clock';
import type { AppConfig } from './config';
import type { Database } from './db/database';
import type { EmailServices, MailTransport } from './email/mail';
import type { ChangeListener } from './fhir/changes';
import type { Definitions } from './fhir/definitions';
import type { InviteDeps } from './invite/invite-service';
import type { SubscriptionServices } from './subscriptions/services';

/**
 * The dependencies every route plugin receives explicitly as its options (`{ ctx }`). Built once
 * per app by buildApp; there are no module-level singletons. It sits between the API layer
 * (which receives it) and the domain layer (whose services it holds): it imports only types of
 * the layers below.
 */
export interface AppContext {
  config: AppConfig;
  database: Database;
  clock: Clock;
  definitions: Definitions;
  log: FastifyBaseLogger;
  auth: AuthServices;
  access: AccessServices;
  email: EmailServices;
  /** The invite's dependencies (one per app: its lock serialises invites of one person). */
  invite: InviteDeps;
  /** The repository's change listeners, handed to every write path (see fhir/changes.ts). */
  listeners: readonly ChangeListener[];
  /** A User is issued tokens for a membership: the invite lifecycle accepts a pending invitation. */
  onMembershipSignIn?: (membership: ProjectMembership, userId: string) => Promise<void>;
  /** Rest-hook subscriptions: the change listener and the notification dispatcher. */
  subscriptions: SubscriptionServices;
  /** The audit trail (audit/services.ts): events in a write's transaction, or recorded without waiting. */
  audit: AuditTrail;
}

/** What buildApp needs beyond the configuration; all optional, for tests. */
export interface AppDeps {
  /** Use this database instead of connecting to config.mongodbUri; the app will not close it. */
  database?: Database;
  clock?: Clock;
  /** The database is the embedded development engine (reported by /healthcheck). */
  embedded?: boolean;
  /** Overrides how mail leaves the server (default: SMTP_URL or .eml files). */
  mailTransport?: MailTransport;
  /** A pino-compatible logger configuration or `false`. */
  logger?: boolean | object;
  /**
   * Listeners called inside the transaction of every resource change (see fhir/changes.ts); the
   * domains that need one (audit trail, subscriptions) add theirs in buildApp.
   */
  changeListeners?: readonly ChangeListener[];
  /**
   * false switches the audit trail off: no AuditEvent is written (the audit benchmark measures
   * sign-in and $invite with and without it in one run). Default: on. Not a setting: a server
   * always keeps its audit trail.
   */
  audit?: boolean;
  /** Told each step of start-up as it begins (main.ts names the one that never ends). */
  onStartupStep?: (step: string) => void;
}
