import type { ClientSession } from 'mongodb';
import type { Reference, Resource } from '@medplum/fhirtypes';

/**
 * The storage layer's one hook for domains that must write something of their own IN THE SAME
 * TRANSACTION as a resource change (the audit trail, rest-hook subscriptions through the outbox).
 *
 * The repository (createResource, updateResource, deleteResource) calls every ChangeListener of
 * its RepoContext after it wrote the new version (current document and history entry) and before
 * the transaction commits; every write path goes through it: the FHIR REST API, $invite and the
 * admin routes, the account cascades of a delete, MFA enrollment, set-password, the first
 * administrator. Listeners are given to the repository at composition time (buildApp passes
 * `AppDeps.changeListeners` down in every RepoContext it builds); storage never imports a domain.
 *
 * A listener:
 * - writes with `change.session` (its documents then commit or roll back with the change);
 * - throws to refuse the change (a FhirError is answered as it is; the whole transaction rolls back);
 * - must be idempotent within a transaction attempt and may run again: withTransaction re-runs the
 *   whole transaction after a transient error;
 * - must not start a transaction of its own (withTransaction) nor write without the session.
 */
export type ChangeListener = (change: ResourceChange) => Promise<void>;

/** Who made a change. Absent for the server's own writes (e.g. the first administrator at start). */
export interface Actor {
  /** The User or ClientApplication acting, e.g. { reference: 'User/123' }. */
  principal: Reference;
  /** The ProjectMembership it acts through, e.g. { reference: 'ProjectMembership/456' }. */
  membership?: Reference;
  /** The id of the project it acts in (its token's project). */
  project?: string;
  /** Its profile (Practitioner, Patient, RelatedPerson or ClientApplication). */
  profile?: Reference;
}

/** One resource change, as written in the transaction of `session` (not committed yet). */
export interface ResourceChange<T extends Resource = Resource> {
  /** The resource type, e.g. 'Patient'. */
  type: string;
  id: string;
  /** POST: created; PUT: replaced (or created with a given id); DELETE: marked deleted. */
  method: 'POST' | 'PUT' | 'DELETE';
  /** The current version before the write; undefined for a create (or a PUT of a new id). */
  before: T | undefined;
  /** The version written (with meta.versionId and meta.lastUpdated); undefined for a DELETE. */
  after: T | undefined;
  /** The version number written (a DELETE writes a version too). */
  version: number;
  lastUpdated: Date;
  /** The project that owns the resource (meta.project), if any. */
  project?: string;
  /** The transaction of the change: write with it, never without. */
  session: ClientSession;
  /** Who made the change, when a caller is known (see RepoContext.actor). */
  actor?: Actor;
  /**
   * What the writer was doing, when it says (RepoContext.operation): one of CHANGE_OPERATIONS,
   * so listeners classify a change (an invite, a resend, a Bundle entry) without calling its writer.
   */
  operation?: ChangeOperation;
  /**
   * What the writer says about the change beyond the resource (RepoContext.detail), e.g. an
   * invite's email status: plain values for listeners, never a secret.
   */
  detail?: Readonly<Record<string, string | boolean>>;
}

/**
 * The operation names writers pass with their changes. The plain REST interactions are
 * `create`, `update`, `patch` and `delete`; `invite`, `resend-invite` and `revoke-invite` are
 * the invite operations; `transaction` and `batch` mark a Bundle entry; `activation` a password
 * set through an activation link; `account` the server's own account bookkeeping (cascades,
 * MFA enrollment, the first administrator).
 */
export const CHANGE_OPERATIONS = ['create', 'update', 'patch', 'delete', 'invite', 'resend-invite', 'revoke-invite', 'transaction', 'batch', 'activation', 'account'] as const;
export type ChangeOperation = (typeof CHANGE_OPERATIONS)[number];

/** What a writer hands the listeners besides the version (the repository's RepoContext extends it). */
export interface ChangeSource {
  /** Called inside the transaction of every create, update and delete. */
  listeners?: readonly ChangeListener[];
  /** Who is writing, handed to the listeners (meta.author is set from WriteOptions.author). */
  actor?: Actor;
  /** What the writer is doing (see ChangeOperation), handed to the listeners. */
  operation?: ChangeOperation;
  /** What the writer says about its changes beyond the resources (see ResourceChange.detail). */
  detail?: Readonly<Record<string, string | boolean>>;
}

/** A version as written: what the repository stores of it (StoredResource extends it) that listeners are told. */
export interface WrittenVersion<T extends Resource = Resource> {
  _id: string;
  version: number;
  lastUpdated: Date;
  /** The owning project id (meta.project), absent for server-level resources. */
  project?: string;
  deleted: boolean;
  resource: T;
}

/** Tells the source's listeners, one after the other, about a version just written in the transaction of `session`. */
export async function notifyListeners<T extends Resource>(source: ChangeSource, session: ClientSession, doc: WrittenVersion<T>, method: ResourceChange['method'], previous?: WrittenVersion<T>): Promise<void> {
  if (!source.listeners || source.listeners.length === 0) {
    return;
  }
  const change: ResourceChange = {
    type: doc.resource.resourceType,
    id: doc._id,
    method,
    before: previous && !previous.deleted ? previous.resource : undefined,
    after: doc.deleted ? undefined : doc.resource,
    version: doc.version,
    lastUpdated: doc.lastUpdated,
    ...(doc.project ? { project: doc.project } : {}),
    session,
    ...(source.actor ? { actor: source.actor } : {}),
    ...(source.operation ? { operation: source.operation } : {}),
    ...(source.detail ? { detail: source.detail } : {}),
  };
  for (const listener of source.listeners) {
    await listener(change);
  }
}
