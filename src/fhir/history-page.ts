import type { Filter, Sort } from 'mongodb';
import type { Database } from '../db/database';
import { badRequest } from '../errors';
import type { HistoryEntry } from './repository';
import { historyCollection } from './resource-types';

/**
 * Where the previous page stopped: (lastUpdated, _id) for type history, the version for instance
 * history, (lastUpdated, type, _id) for the history of every type (GET /fhir/R4/_history).
 */
export type HistoryCursor = { kind: 'type'; t: number; id: string } | { kind: 'instance'; version: number } | { kind: 'system'; t: number; type: string; id: string };

export interface HistoryPageQuery {
  /** Instance history of this id; type history when absent. */
  id?: string;
  /** Versions written at or after this instant (FHIR _since is inclusive). */
  since?: Date;
  /** How many entries to answer (the caller asks one more to know whether a next page exists). */
  limit: number;
  after?: HistoryCursor;
  /** The caller's confinement on history entries (undefined: all). */
  confinement?: Filter<HistoryEntry>;
}

export function encodeCursor(cursor: HistoryCursor): string {
  const raw = cursor.kind === 'type' ? `t|${cursor.t}|${cursor.id}` : cursor.kind === 'system' ? `s|${cursor.t}|${cursor.type}|${cursor.id}` : `v|${cursor.version}`;
  return Buffer.from(raw).toString('base64url');
}

export function decodeCursor(value: string): HistoryCursor {
  const raw = /^[A-Za-z0-9_-]{1,200}$/.test(value) ? Buffer.from(value, 'base64url').toString() : '';
  const typeMatch = /^t\|(\d{1,16})\|([A-Za-z0-9\-.]{1,64}\/\d{1,9})$/.exec(raw);
  if (typeMatch) {
    return { kind: 'type', t: Number(typeMatch[1]), id: typeMatch[2] };
  }
  const systemMatch = /^s\|(\d{1,16})\|([A-Z][A-Za-z]{0,63})\|([A-Za-z0-9\-.]{1,64}\/\d{1,9})$/.exec(raw);
  if (systemMatch) {
    return { kind: 'system', t: Number(systemMatch[1]), type: systemMatch[2], id: systemMatch[3] };
  }
  const versionMatch = /^v\|(\d{1,9})$/.exec(raw);
  if (versionMatch) {
    return { kind: 'instance', version: Number(versionMatch[1]) };
  }
  throw badRequest('_cursor is not a cursor this server gave out: follow the next link as it is', '_cursor');
}

/** The cursor that continues after this entry. */
export function cursorAfter(entry: HistoryEntry, instance: boolean): HistoryCursor {
  return instance ? { kind: 'instance', version: entry.version } : { kind: 'type', t: entry.lastUpdated.getTime(), id: entry._id };
}

/** The order of the history of every type: newest first, then by type, then by `_id`, all descending. */
export function compareSystemHistory(a: HistoryEntry, b: HistoryEntry): number {
  const byTime = b.lastUpdated.getTime() - a.lastUpdated.getTime();
  if (byTime !== 0) {
    return byTime;
  }
  const [s, t] = [a.resource.resourceType, b.resource.resourceType];
  if (s !== t) {
    return s < t ? 1 : -1;
  }
  return a._id === b._id ? 0 : a._id < b._id ? 1 : -1;
}

/** The cursor of the history of every type that continues after this entry. */
export function systemCursorAfter(entry: HistoryEntry): HistoryCursor {
  return { kind: 'system', t: entry.lastUpdated.getTime(), type: entry.resource.resourceType, id: entry._id };
}

/**
 * One page of history, newest first. Type history pages on the (lastUpdated, _id) pair, so
 * entries sharing a timestamp are neither skipped nor repeated; instance history on the version.
 */
export async function readHistoryPage(database: Database, type: string, query: HistoryPageQuery): Promise<HistoryEntry[]> {
  const parts: Filter<HistoryEntry>[] = [];
  if (query.id !== undefined) {
    parts.push({ id: query.id });
  }
  if (query.since) {
    parts.push({ lastUpdated: { $gte: query.since } });
  }
  if (query.confinement) {
    parts.push(query.confinement);
  }
  const after = query.after;
  if (after?.kind === 'type') {
    const t = new Date(after.t);
    parts.push({ $or: [{ lastUpdated: { $lt: t } }, { lastUpdated: t, _id: { $lt: after.id } }] });
  } else if (after?.kind === 'instance') {
    parts.push({ version: { $lt: after.version } });
  } else if (after?.kind === 'system') {
    // Entries after the cursor in (lastUpdated, type, _id) descending order, for this one type.
    const t = new Date(after.t);
    if (type === after.type) {
      parts.push({ $or: [{ lastUpdated: { $lt: t } }, { lastUpdated: t, _id: { $lt: after.id } }] });
    } else {
      parts.push({ lastUpdated: type < after.type ? { $lte: t } : { $lt: t } });
    }
  }
  const filter: Filter<HistoryEntry> = parts.length === 0 ? {} : parts.length === 1 ? parts[0] : { $and: parts };
  const sort: Sort = query.id !== undefined ? { version: -1 } : { lastUpdated: -1, _id: -1 };
  return database.db.collection<HistoryEntry>(historyCollection(type)).find(filter).sort(sort).limit(query.limit).toArray();
}
