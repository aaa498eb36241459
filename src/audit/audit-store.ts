import type { ClientSession } from 'mongodb';
import type { AuditEvent } from '@medplum/fhirtypes';
import { newId } from '../clock';
import { recordWrite } from '../db/commit-ledger';
import type { Database } from '../db/database';
import type { IndexSpecs } from '../db/indexes';
import type { StoredResource } from '../fhir/repository';
import { currentCollection } from '../fhir/resource-types';
import { computeSearchFields } from '../fhir/search/index-fields';

/** The collection of AuditEvents: the FHIR type's own, so that read and search work as for any type. */
export const AUDIT_COLLECTION = currentCollection('AuditEvent');

/** A stored AuditEvent: the resource document every type has, plus when it expires (TTL index). */
export interface StoredAuditEvent extends StoredResource<AuditEvent> {
  expiresAt: Date;
}

/**
 * The audit trail's indexes: its TTL index (each event carries its own expiry, so changing
 * AUDIT_RETENTION_DAYS never conflicts with an existing index), beside the indexes every
 * resource type has (fhir/indexes.ts).
 */
export function auditIndexes(): IndexSpecs {
  return { [AUDIT_COLLECTION]: [{ key: { expiresAt: 1 }, name: 'audit_expire', expireAfterSeconds: 0 }] };
}

/**
 * Inserts one AuditEvent as a version-1 resource of `project` (meta.project), with its search
 * fields. With a session, it commits or rolls back with that transaction. Events are never
 * updated: there is no history entry, and AuditEvent answers read and search only.
 */
export async function insertAuditEvent(database: Database, event: AuditEvent, at: Date, retentionMs: number, project?: string, session?: ClientSession): Promise<StoredAuditEvent> {
  const id = newId();
  const resource: AuditEvent = { ...event, id, meta: { versionId: '1', lastUpdated: at.toISOString(), ...(project ? { project } : {}) } };
  const doc: StoredAuditEvent = {
    _id: id,
    version: 1,
    lastUpdated: at,
    ...(project ? { project } : {}),
    deleted: false,
    resource,
    sp: computeSearchFields(resource),
    expiresAt: new Date(at.getTime() + retentionMs),
  };
  await database.db.collection<StoredAuditEvent>(AUDIT_COLLECTION).insertOne(doc, session ? { session } : {});
  if (session) {
    recordWrite(session, { collection: AUDIT_COLLECTION, id });
  }
  return doc;
}
