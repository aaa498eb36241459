import type { ClientSession } from 'mongodb';
import type { StructureDefinition } from '@medplum/fhirtypes';
import type { Store } from '../../db/store';
import type { KeyedLock } from '../../db/keyed-lock';
import type { AccessScope } from '../../access/access-scope';
import { actorOf } from '../../accounts/auth-context';
import type { ChangeListener, ChangeOperation } from '../../fhir/changes';
import type { RepoContext } from '../../fhir/repository';

/** What the REST functions need; built once per app by the FHIR plugin. */
export interface RestDeps extends Store {
  baseUrl: string;
  profiles: ReadonlyMap<string, StructureDefinition>;
  /**
   * Serializes writes to one resource within this process (see DESIGN.md on the embedded engine).
   * Inside a transaction Bundle it runs at once: the Bundle took the keys it needs before its
   * transaction began (a lock taken inside a transaction would wait for a writer that waits for it).
   */
  writeLock: Pick<KeyedLock, 'run'>;
  /** The repository's change listeners (see fhir/changes.ts), given by buildApp. */
  listeners?: readonly ChangeListener[];
  /** Every read and write joins this transaction (the entries of a transaction Bundle). */
  session?: ClientSession;
  /** What the writes are part of, when not a plain REST interaction (`transaction`, `batch`). */
  operation?: ChangeOperation;
}

/** The repository context of a REST write (or read) by the caller of `scope`. */
export const repoContext = (deps: RestDeps, scope?: AccessScope, operation?: ChangeOperation): RepoContext => ({
  database: deps.database,
  clock: deps.clock,
  profiles: deps.profiles,
  ...(deps.listeners ? { listeners: deps.listeners } : {}),
  ...(scope ? { actor: actorOf(scope.auth) } : {}),
  ...((deps.operation ?? operation) ? { operation: deps.operation ?? operation } : {}),
  ...(deps.session ? { session: deps.session } : {}),
});
