import type { IndexSpecs } from '../db/indexes';

export function inviteIndexes(): IndexSpecs {
  return {};
}
