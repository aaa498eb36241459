import type { ClientSession } from 'mongodb';
import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from '../clock';
import type { Database } from '../db/database';
import type { ChangeListener } from '../fhir/changes';
import { buildAuditEvent, type AuditRecord } from './audit-event';
import { auditListener } from './audit-listener';
import { insertAuditEvent } from './audit-store';
import type { AuditTrail } from './trail';

export type { AuditTrail } from './trail';

export interface AuditServices {
  trail: AuditTrail;
  /** The change listener that writes the events about resource writes (see audit-listener.ts). */
  listener: ChangeListener;
}

export interface AuditDeps {
  database: Database;
  clock: Clock;
  log: FastifyBaseLogger;
  config: { baseUrl: string; auditRetentionDays: number };
  /** false: record nothing (the benchmark's baseline). */
  enabled?: boolean;
}

export function createAuditServices(deps: AuditDeps): AuditServices {
  const enabled = deps.enabled !== false;
  const retentionMs = deps.config.auditRetentionDays * 86_400_000;
  const pending = new Set<Promise<void>>();
  let failed = 0;

  const insert = async (record: AuditRecord, session?: ClientSession): Promise<void> => {
    const now = deps.clock.now();
    await insertAuditEvent(deps.database, buildAuditEvent(record, now, deps.config.baseUrl), now, retentionMs, record.project, session);
  };

  const trail: AuditTrail = {
    enabled,
    write: async (session, record) => {
      if (enabled) {
        await insert(record, session);
      }
    },
    record: (record) => {
      if (!enabled) {
        return;
      }
      const task = insert(record)
        .catch((err: unknown) => {
          failed++;
          const { name, code } = (err ?? {}) as { name?: string; code?: unknown };
          deps.log.error({ audit: record.kind, outcome: record.outcome ?? '0', error: name ?? 'Error', ...(code !== undefined ? { code } : {}) }, 'an audit event could not be written');
        })
        .finally(() => pending.delete(task));
      pending.add(task);
    },
    failures: () => failed,
    drain: async () => {
      while (pending.size > 0) {
        await Promise.all([...pending]);
      }
    },
  };
  return { trail, listener: auditListener(trail) };
}
