import type { AccessScope } from '../../access/access-scope';
import type { Preferences } from '../rest/prefer';
import type { RestDeps } from '../rest/rest-deps';
import { readEntry, type BundleEntryRequest } from './entries';
import { errorOutcome, performEntry, writes, type EntryOutcome } from './perform';

/**
 * A batch Bundle: each entry is its own request, run in request order, one after the other, and
 * answered on its own (a refused entry answers its status and OperationOutcome in
 * `response.outcome`; the others go on). REST entries go through the same functions as single
 * requests with the caller's access as it is when the entry runs (an earlier entry may have
 * changed it); their writes are marked `batch`. An operation (`POST Project/{id}/$invite`) or any
 * other request of the FHIR API is sent to its own route, as a request of its own with the
 * caller's credentials, and answers what that route answers.
 */
export interface BatchRunner {
  deps: RestDeps;
  baseUrl: string;
  /** The caller's access now (resolved again for each entry; cached between writes that change it). */
  scope(): Promise<AccessScope>;
  /** After a write to `type` (even a failed one): forget this instance's cached access. */
  wrote(type: string): void;
  /** Sends an entry to its route (operations and the requests the REST entries do not cover). */
  route(entry: BundleEntryRequest, prefer: Preferences): Promise<EntryOutcome>;
  log: { error(obj: unknown, msg: string): void };
}

export async function runBatch(runner: BatchRunner, entries: readonly Record<string, unknown>[], prefer: Preferences): Promise<EntryOutcome[]> {
  const deps: RestDeps = { ...runner.deps, operation: 'batch' };
  const outcomes: EntryOutcome[] = [];
  for (const [index, raw] of entries.entries()) {
    let entry: BundleEntryRequest | undefined;
    try {
      entry = readEntry(raw, index, runner.baseUrl);
      if (entry.kind === 'route') {
        outcomes.push(await runner.route(entry, prefer));
        continue;
      }
      outcomes.push(await performEntry(deps, await runner.scope(), entry, prefer));
    } catch (err) {
      outcomes.push(errorOutcome(err, runner.log));
    } finally {
      if (entry?.type && writes(entry)) {
        runner.wrote(entry.type);
      }
    }
  }
  return outcomes;
}
