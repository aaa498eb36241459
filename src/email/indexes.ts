import type { IndexSpecs } from '../db/indexes';
import { DISPATCH_COLLECTION } from './dispatch-state';
import { OUTBOX_COLLECTION } from './outbox';

export function emailIndexes(): IndexSpecs {
  return {
    // Adoption looks at recent mail first.
    [OUTBOX_COLLECTION]: [{ key: { createdAt: 1 }, name: 'outbox_created_at' }],
    // The dispatcher's claim: pending mail due now, oldest first.
    [DISPATCH_COLLECTION]: [{ key: { status: 1, nextAttemptAt: 1 }, name: 'dispatch_status_next_attempt' }],
  };
}
