import type { IndexSpecs } from '../db/indexes';

export function emailIndexes(): IndexSpecs {
  return {};
}
