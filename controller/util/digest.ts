import { createHash } from 'node:crypto';

/**
 * A short fixed-size stand-in for a text that is only ever compared, never read back: what was last
 * written, kept instead of the text itself (which at 10,000 objects is megabytes).
 */
export function textDigest(text: string): string {
  return createHash('sha256').update(text).digest('base64');
}
