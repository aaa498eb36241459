import { KeyedLock, LockWaitTimeoutError } from '../../src/db/keyed-lock';

describe('KeyedLock', () => {
  test('runs callers with the same key one after another, other keys in parallel', async () => {
    const lock = new KeyedLock();
    const events: string[] = [];
    const task = (key: string, name: string, ms: number) =>
      lock.run(key, async () => {
        events.push(`start ${name}`);
        await new Promise((r) => setTimeout(r, ms));
        events.push(`end ${name}`);
        return name;
      });
    const results = await Promise.all([task('a', 'a1', 30), task('a', 'a2', 5), task('b', 'b1', 5)]);
    expect(results).toEqual(['a1', 'a2', 'b1']);
    expect(events.indexOf('end a1')).toBeLessThan(events.indexOf('start a2'));
    expect(events.indexOf('start b1')).toBeLessThan(events.indexOf('end a1'));
  });

  test('a failing holder releases the key', async () => {
    const lock = new KeyedLock();
    await expect(lock.run('k', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(lock.run('k', async () => 'next')).resolves.toBe('next');
  });
});

describe('KeyedLock with a bounded wait', () => {
  test('a caller that waits too long gives up without running, and the order behind it is kept', async () => {
    const lock = new KeyedLock();
    const events: string[] = [];
    let finishHolder!: () => void;
    const holder = lock.run('k', () => new Promise<void>((r) => (finishHolder = r)).then(() => void events.push('holder done')));
    const impatient = lock.run('k', async () => void events.push('impatient ran'), { maxWaitMs: 20 });
    const patient = lock.run('k', async () => void events.push('patient ran'));
    expect(lock.waiting('k')).toBe(2);

    await expect(impatient).rejects.toBeInstanceOf(LockWaitTimeoutError);
    expect(lock.waiting('k')).toBe(1);
    // The patient caller still waits for the holder, not for the one that gave up.
    expect(events).toEqual([]);
    finishHolder();
    await Promise.all([holder, patient]);
    expect(events).toEqual(['holder done', 'patient ran']);
    expect(lock.waiting('k')).toBe(0);
    await expect(lock.run('k', async () => 'free again')).resolves.toBe('free again');
  });

  test('an abort signal ends the wait with its reason', async () => {
    const lock = new KeyedLock();
    let finishHolder!: () => void;
    const holder = lock.run('k', () => new Promise<void>((r) => (finishHolder = r)));
    const controller = new AbortController();
    const waiter = lock.run('k', async () => 'ran', { signal: controller.signal });
    controller.abort(new Error('database down'));
    await expect(waiter).rejects.toThrow('database down');
    finishHolder();
    await holder;
    const already = new AbortController();
    already.abort(new Error('still down'));
    await expect(lock.run('k', async () => 'ran', { signal: already.signal })).rejects.toThrow('still down');
  });
});
