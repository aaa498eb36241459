import { DEFAULT_RETRY_POLICY, describeSendError, isPermanentFailure, retryDelayMs } from '../../src/email/retry-policy';

describe('retry policy', () => {
  test('the first retry comes within 30 s and each later one doubles, capped at 10 minutes', () => {
    const delays = Array.from({ length: 12 }, (_, i) => retryDelayMs(i + 1) / 1000);
    expect(delays).toEqual([5, 10, 20, 40, 80, 160, 320, 600, 600, 600, 600, 600]);
    expect(retryDelayMs(1)).toBeLessThanOrEqual(30_000);
    expect(retryDelayMs(1000)).toBe(10 * 60_000);
  });

  test('attempts are bounded and the lease outlasts the SMTP timeouts', () => {
    expect(DEFAULT_RETRY_POLICY.maxAttempts).toBeGreaterThan(1);
    expect(DEFAULT_RETRY_POLICY.maxAttempts).toBeLessThanOrEqual(20);
    expect(DEFAULT_RETRY_POLICY.leaseMs).toBe(60_000);
  });

  test('a failure description is short and carries no credentials', () => {
    const err = Object.assign(new Error('Invalid login for smtp://bob:hunter2@mail.example.com:587\nsecond line password=hunter2'), { code: 'EAUTH', responseCode: 535 });
    const text = describeSendError(err);
    expect(text).toMatch(/^EAUTH 535: /);
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('second line');
    expect(describeSendError(new Error('x'.repeat(1000))).length).toBeLessThanOrEqual(200);
    expect(describeSendError(undefined)).toBe('unknown error');
  });

  test('only refusals of the recipient or message are permanent', () => {
    expect(isPermanentFailure({ responseCode: 550 })).toBe(true);
    expect(isPermanentFailure({ responseCode: 451 })).toBe(false);
    expect(isPermanentFailure({ responseCode: 535 })).toBe(false);
    expect(isPermanentFailure(new Error('ECONNREFUSED'))).toBe(false);
  });
});
