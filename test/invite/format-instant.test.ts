import { formatInstant } from '../../src/invite/invite-email';

describe('formatInstant (the expiry in the invitation mail)', () => {
  test('writes what Intl.DateTimeFormat en-GB in UTC writes, for instants across years, months and hours', () => {
    const intl = new Intl.DateTimeFormat('en-GB', { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false, timeZone: 'UTC' });
    const start = Date.UTC(2024, 0, 1);
    // 1,000 instants ~1 day 7 hours 13 minutes apart: every weekday, month, hour and minute digit.
    for (let i = 0; i < 1000; i++) {
      const date = new Date(start + i * (31 * 3_600_000 + 13 * 60_000 + 17_000));
      expect(formatInstant(date)).toBe(`${intl.format(date)} UTC`);
    }
  });

  test('midnight and single-digit days', () => {
    expect(formatInstant(new Date('2026-03-01T00:00:59Z'))).toBe('Sunday, 1 March 2026 at 00:00 UTC');
  });
});
