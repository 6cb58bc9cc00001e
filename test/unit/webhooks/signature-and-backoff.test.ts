import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { retryDelayMs, retrySchedule } from '../../../controller/webhooks/backoff.js';
import { signBody, verifySignature } from '../../../controller/webhooks/signature.js';

describe('signing', () => {
  const body = '{"type":"database.ready","object":{"name":"alice"}}';
  const secret = 'a-secret-of-some-length';

  it('is sha256= and the hex HMAC-SHA256 of the raw body, as any HMAC library computes it', () => {
    // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
    expect(signBody('what do ya want for nothing?', 'Jefe')).toBe(
      'sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
    expect(signBody(body, secret)).toBe(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  });

  it('verifies its own signature and refuses another body, another secret, a missing or truncated one', () => {
    const signature = signBody(body, secret);
    expect(verifySignature(body, secret, signature)).toBe(true);
    expect(verifySignature(Buffer.from(body), secret, signature)).toBe(true);
    expect(verifySignature(`${body} `, secret, signature)).toBe(false);
    expect(verifySignature(body, `${secret}x`, signature)).toBe(false);
    expect(verifySignature(body, secret, undefined)).toBe(false);
    expect(verifySignature(body, secret, signature.slice(0, -1))).toBe(false);
  });
});

describe('backoff', () => {
  it('doubles from 1 s and is capped at 60 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 20, 2000].map((n) => retryDelayMs(n))).toEqual([
      1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000, 60000,
    ]);
    expect([1, 2, 3, 4].map((n) => retryDelayMs(n, { baseMs: 100, maxMs: 500 }))).toEqual([
      100, 200, 400, 500,
    ]);
    expect(() => retryDelayMs(0)).toThrow(/from 1 up, got `0`/);
  });

  it('retries within the window only: 10 min by default is 1+2+...+32 s, then 60 s waits: 14 retries, 15 attempts', () => {
    const schedule = retrySchedule(600_000);
    expect(schedule).toEqual([1000, 2000, 4000, 8000, 16000, 32000, ...Array(8).fill(60000)]);
    expect(schedule.reduce((a, b) => a + b, 0)).toBe(543_000);
    expect(retrySchedule(10_000, { baseMs: 1000 })).toEqual([1000, 2000, 4000]);
    expect(retrySchedule(500)).toEqual([]);
  });
});
