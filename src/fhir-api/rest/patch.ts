import type { AccessScope } from '../../access/access-scope';
import { redact, requireInteraction } from '../../access/enforce';
import { badRequest, FhirError, gone, preconditionFailed } from '../../errors';
import { applyJsonPatch, parseJsonPatch } from './json-patch';
import { readVisibleDoc, type ReadResult } from './read';
import type { RestDeps } from './rest-deps';
import { updateForCaller } from './write';

const IF_MATCH = /^(?:W\/)?"(\d{1,9})"$/;

/**
 * PATCH /{type}/{id} with a JSON Patch: the patch is applied to the resource AS THE CALLER SEES
 * IT (hidden fields left out, so a `test` or a `copy` can never read one), and the result goes
 * through the update (`updateForCaller`: the same access checks, hidden fields restored, read-only
 * fields kept, validation), guarded by the version that was patched. With If-Match, another
 * current version is 412; without it, a concurrent change makes the patch apply again to the new
 * version. Writes are marked `patch` for the change listeners.
 */
export async function patchForCaller(deps: RestDeps, scope: AccessScope, type: string, id: string, patch: unknown, ifMatch?: string): Promise<ReadResult> {
  const access = requireInteraction(scope, type, 'update');
  const operations = parseJsonPatch(patch, type);
  const wanted = ifMatch === undefined ? undefined : IF_MATCH.exec(ifMatch.trim())?.[1];
  if (ifMatch !== undefined && wanted === undefined) {
    throw badRequest('If-Match must look like W/"3"', 'If-Match');
  }
  const patching: RestDeps = { ...deps, operation: deps.operation ?? 'patch' };
  for (let attempt = 1; ; attempt++) {
    const existing = await readVisibleDoc(deps, scope, type, id);
    if (existing.deleted) {
      throw gone(`${type}/${id} was deleted`);
    }
    if (wanted !== undefined && Number(wanted) !== existing.version) {
      throw preconditionFailed(`If-Match W/"${wanted}" does not match the current version W/"${existing.version}" of ${type}/${id}`, 'If-Match');
    }
    const patched = applyJsonPatch(redact(access, existing.resource), operations);
    try {
      return await updateForCaller(patching, scope, type, id, patched, `W/"${existing.version}"`);
    } catch (err) {
      if (wanted === undefined && err instanceof FhirError && err.code === 'FST_PRECONDITION' && attempt < 3) {
        continue;
      }
      throw err;
    }
  }
}
