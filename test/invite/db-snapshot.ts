import type { FastifyInstance } from 'fastify';
import { historyCollection, STORED_TYPES } from '../../src/fhir/resource-types';

/**
 * Every document of every collection an invite can touch. (The shared snapshotDatabase helper
 * lists collections, a command the embedded engine does not support, so the list is explicit.)
 */
export async function snapshot(app: FastifyInstance): Promise<Record<string, unknown[]>> {
  const names = [...STORED_TYPES, ...STORED_TYPES.map(historyCollection), 'credentials', 'activations', 'outbox', 'idempotency', 'logins'];
  const db = app.ctx.database.db;
  const result: Record<string, unknown[]> = {};
  for (const name of names.sort()) {
    result[name] = await db.collection(name).find({}).sort({ _id: 1 }).toArray();
  }
  return result;
}
