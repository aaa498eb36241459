import type { StructureDefinition } from '@medplum/fhirtypes';
import type { Clock } from '../../clock';
import type { Database } from '../../db/database';
import type { KeyedLock } from '../../db/keyed-lock';
import type { RepoContext } from '../../fhir/repository';

/** What the REST functions need; built once per app by the FHIR plugin. */
export interface RestDeps {
  database: Database;
  clock: Clock;
  baseUrl: string;
  profiles: ReadonlyMap<string, StructureDefinition>;
  /** Serializes writes to one resource within this process (see DESIGN.md on the embedded engine). */
  writeLock: KeyedLock;
}

export const repoContext = (deps: RestDeps): RepoContext => ({ database: deps.database, clock: deps.clock, profiles: deps.profiles });
