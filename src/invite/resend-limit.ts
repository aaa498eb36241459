import type { ClientSession } from 'mongodb';
import type { Store } from '../db/store';
import { tooManyRequests } from '../errors';

/**
 * At most RESEND_LIMIT resends of one membership's invitation in any rolling RESEND_WINDOW_MS,
 * counted in the database (so the limit holds across instances): one document per membership
 * with the times of its resends in the window. It is read and written in the resend's
 * transaction, and that transaction also writes the membership under its version guard, so two
 * resends at once cannot both count the same free place (one of them is run again and counts
 * again). A refused resend writes nothing.
 */
export const INVITE_RESENDS = 'invite_resends';
export const RESEND_LIMIT = 5;
export const RESEND_WINDOW_MS = 3600_000;

interface ResendsDoc {
  _id: string;
  /** The resends within the window, oldest first. */
  sentAt: Date[];
}

/** 429 with Retry-After (when the oldest counted resend leaves the window) when the limit is reached. */
export async function checkResendLimit(store: Store, session: ClientSession, membershipId: string): Promise<Date[]> {
  const now = store.clock.now().getTime();
  const doc = await store.database.db.collection<ResendsDoc>(INVITE_RESENDS).findOne({ _id: membershipId }, { session });
  const recent = (doc?.sentAt ?? []).filter((at) => at.getTime() > now - RESEND_WINDOW_MS).sort((a, b) => a.getTime() - b.getTime());
  if (recent.length >= RESEND_LIMIT) {
    const retryAfter = (recent[recent.length - RESEND_LIMIT].getTime() + RESEND_WINDOW_MS - now) / 1000;
    throw tooManyRequests(retryAfter, `This invitation was already sent ${RESEND_LIMIT} times in the last hour: try again in ${Math.ceil(retryAfter / 60)} minute(s)`);
  }
  return recent;
}

/** Counts a resend (in its transaction), keeping only the times still in the window. */
export async function countResend(store: Store, session: ClientSession, membershipId: string, recent: Date[]): Promise<void> {
  const sentAt = [...recent, store.clock.now()];
  await store.database.db.collection<ResendsDoc>(INVITE_RESENDS).updateOne({ _id: membershipId }, { $set: { sentAt } }, { upsert: true, session });
}
