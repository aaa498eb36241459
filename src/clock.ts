import { randomUUID } from 'node:crypto';

/** Time, injectable so tests can move it. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A new resource id (UUID v4). */
export function newId(): string {
  return randomUUID();
}
