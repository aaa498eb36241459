import type { Resource } from '@medplum/fhirtypes';
import type { Store } from '../../db/store';
import { presentInviteStatus } from '../../invite/invite-status';

/**
 * A resource as the REST API answers it at the app's time: what the server derives when read
 * rather than stores (a pending invitation whose link expired shows `expired`, see
 * invite/invite-status.ts). Every read, search, history and write answer passes through here.
 */
export function present<T extends Resource>(deps: Store, resource: T): T {
  return presentInviteStatus(resource, deps.clock.now());
}
