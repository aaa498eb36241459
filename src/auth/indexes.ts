import type { IndexSpecs } from '../db/indexes';

export function authIndexes(): IndexSpecs {
  return {};
}
