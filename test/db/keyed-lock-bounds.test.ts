import { KeyedLock, LockWaitTimeoutError } from '../../src/db/keyed-lock';

describe('KeyedLock memory', () => {
  test('forgets every key once its callers are done (also after a failure and a caller that gave up)', async () => {
    const lock = new KeyedLock();
    await Promise.all(Array.from({ length: 500 }, (_, i) => lock.run(`invitee-${i % 50}`, async () => i)));
    expect(lock.size).toBe(0);
    await expect(lock.run('k', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(lock.size).toBe(0);
    let release!: () => void;
    const holder = lock.run('k', () => new Promise<void>((r) => (release = r)));
    await expect(lock.run('k', async () => 'never', { maxWaitMs: 5 })).rejects.toBeInstanceOf(LockWaitTimeoutError);
    expect(lock.size).toBe(1);
    expect(lock.waiting('k')).toBe(0);
    release();
    await holder;
    await new Promise((r) => setImmediate(r));
    expect(lock.size).toBe(0);
  });
});
