import type { IndexSpecs } from '../db/indexes';
import { IDEMPOTENCY } from './idempotency';

export function inviteIndexes(): IndexSpecs {
  return {
    // Expired idempotency keys are removed by MongoDB (the code also ignores them when read).
    [IDEMPOTENCY]: [{ key: { expiresAt: 1 }, name: 'expires', expireAfterSeconds: 0 }],
  };
}
