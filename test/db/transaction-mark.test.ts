import { TransactionMark } from '../../src/db/transaction-mark';

describe('TransactionMark', () => {
  test('is active inside marked work (across awaits), never outside it', async () => {
    const mark = new TransactionMark();
    expect(mark.active()).toBe(false);
    const seen: boolean[] = [];
    await mark.run(async () => {
      seen.push(mark.active());
      await new Promise((r) => setTimeout(r, 5));
      seen.push(mark.active());
    });
    expect(seen).toEqual([true, true]);
    expect(mark.active()).toBe(false);
    // Work that did not start inside marked work is not marked, even while marked work runs.
    let finish!: () => void;
    const running = mark.run(() => new Promise<void>((r) => (finish = r)));
    expect(await Promise.resolve().then(() => mark.active())).toBe(false);
    finish();
    await running;
  });

  test('overlapping marked work stays marked when the other one ends first', async () => {
    const mark = new TransactionMark();
    let endFirst!: () => void;
    const first = mark.run(() => new Promise<void>((r) => (endFirst = r)));
    const insideSecond: boolean[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const second = mark.run(async () => {
      insideSecond.push(mark.active());
      await gate;
      insideSecond.push(mark.active());
    });
    endFirst();
    await first;
    release();
    await second;
    expect(insideSecond).toEqual([true, true]);
    expect(mark.active()).toBe(false);
  });

  test('ends marked even when the work throws', async () => {
    const mark = new TransactionMark();
    await expect(mark.run(async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(mark.active()).toBe(false);
    expect(await mark.run(async () => mark.active())).toBe(true);
  });
});
