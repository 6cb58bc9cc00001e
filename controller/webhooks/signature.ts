import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header a delivery is signed in: `sha256=<hex HMAC-SHA256 of the raw body, keyed by the secret>`. */
export const SIGNATURE_HEADER = 'X-Myaas-Signature';

/** `sha256=<hex>`: GitHub's form, so receivers that already check GitHub's can check ours. */
export function signBody(body: string | Uint8Array, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Whether `signature` is the body's, compared in constant time (what a receiver does; tests use it). */
export function verifySignature(
  body: string | Uint8Array,
  secret: string,
  signature: string | undefined,
): boolean {
  if (!signature) return false;
  const expected = Buffer.from(signBody(body, secret));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
