import type { ProjectMembership, Resource } from '@medplum/fhirtypes';
import { membershipChanging, principalDeleting } from '../../access/account-removal';
import type { SessionRepo } from '../../access/admin-guard';
import { AmbiguousCommitError, DuplicateKeyError, withTransaction } from '../../db/transaction';
import { conflict, FhirError } from '../../errors';
import type { ChangeOperation } from '../../fhir/changes';
import { readStored } from '../../fhir/repository';
import type { AccessScope } from '../../access/access-scope';
import { repoContext, type RestDeps } from './rest-deps';

/**
 * Writes to these types have consequences that must commit with them (see
 * src/access/account-removal.ts and admin-guard.ts): guards that refuse (409) removing a
 * project's owner or last administrator, sessions revoked, a project-scoped User deleted with
 * its last membership. Such writes run in one transaction with those consequences.
 */
const RULED_TYPES: ReadonlySet<string> = new Set(['ProjectMembership', 'User', 'ClientApplication', 'Project']);

export function hasWriteRules(type: string): boolean {
  return RULED_TYPES.has(type);
}

/** Runs `fn` in one transaction (the caller's, when deps has one); a clash of unique keys at commit is a 409, an unconfirmed commit a 503. */
export async function inOneTransaction<T>(deps: RestDeps, scope: AccessScope, operation: ChangeOperation, fn: (repo: SessionRepo) => Promise<T>): Promise<T> {
  if (deps.session) {
    // Already inside a transaction (a transaction Bundle): join it.
    return fn({ ...repoContext(deps, scope, operation), session: deps.session });
  }
  try {
    return await withTransaction(deps.database, (session) => fn({ ...repoContext(deps, scope, operation), session }));
  } catch (err) {
    if (err instanceof DuplicateKeyError) {
      throw conflict('The change conflicts with an existing resource');
    }
    if (err instanceof AmbiguousCommitError) {
      throw new FhirError('FST_UNAVAILABLE', 'The database did not confirm the change; read the resource again before retrying');
    }
    throw err;
  }
}

/** Before an update (in its transaction): the rules for the resource as stored now and as it will be. */
export async function beforeUpdate(repo: SessionRepo, type: string, id: string, after: Resource): Promise<void> {
  if (type !== 'ProjectMembership') {
    return;
  }
  const current = await readStored<ProjectMembership>(repo, type, id);
  if (current && !current.deleted) {
    await membershipChanging(repo, current.resource, after as ProjectMembership);
  }
}

/** Before a delete (in its transaction): the rules for the resource as stored now. */
export async function beforeDelete(repo: SessionRepo, type: string, id: string): Promise<void> {
  const current = await readStored(repo, type, id);
  if (!current || current.deleted) {
    return;
  }
  if (type === 'ProjectMembership') {
    await membershipChanging(repo, current.resource as ProjectMembership, undefined);
  } else {
    await principalDeleting(repo, current.resource);
  }
}
