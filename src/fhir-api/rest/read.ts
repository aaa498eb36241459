import type { Resource } from '@medplum/fhirtypes';
import type { AccessScope, Interaction } from '../../access/access-scope';
import { redact, requireInteraction } from '../../access/enforce';
import { gone, notFound } from '../../errors';
import { readVersion, type StoredResource } from '../../fhir/repository';
import { currentCollection } from '../../fhir/resource-types';
import type { RestDeps } from './rest-deps';
import { present } from './present';
import { visible } from '../../access/confinement';

export interface ReadResult<T extends Resource = Resource> {
  resource: T;
  version: number;
  lastUpdated: Date;
}

/** The current document (deleted or not) when the caller may see it; 404 otherwise (existence never leaks). */
export async function readVisibleDoc(deps: RestDeps, scope: AccessScope, type: string, id: string, interaction?: Interaction): Promise<StoredResource> {
  const doc = await deps.database.db.collection<StoredResource>(currentCollection(type)).findOne({ _id: id }, { projection: { sp: 0, uk: 0 }, session: deps.session });
  if (!doc || !(await visible(deps, scope, doc.resource, interaction))) {
    throw notFound(`${type}/${id} not found`);
  }
  return doc;
}

/** GET /{type}/{id}: 403 without read access, 404 unknown or outside the caller's projects, 410 deleted. */
export async function readForCaller(deps: RestDeps, scope: AccessScope, type: string, id: string): Promise<ReadResult> {
  const access = requireInteraction(scope, type, 'read');
  const doc = await readVisibleDoc(deps, scope, type, id, 'read');
  if (doc.deleted) {
    throw gone(`${type}/${id} was deleted`);
  }
  return { resource: present(deps, redact(access, doc.resource)), version: doc.version, lastUpdated: doc.lastUpdated };
}

/** GET /{type}/{id}/_history/{vid}: one version; 410 when that version is a deletion. */
export async function readVersionForCaller(deps: RestDeps, scope: AccessScope, type: string, id: string, version: number): Promise<ReadResult> {
  const access = requireInteraction(scope, type, 'vread');
  const entry = await readVersion(deps, type, id, version);
  if (!(await visible(deps, scope, entry.resource, 'vread'))) {
    throw notFound(`${type}/${id} has no version ${version}`);
  }
  if (entry.deleted) {
    throw gone(`Version ${version} of ${type}/${id} is its deletion`);
  }
  return { resource: present(deps, redact(access, entry.resource)), version: entry.version, lastUpdated: entry.lastUpdated };
}
