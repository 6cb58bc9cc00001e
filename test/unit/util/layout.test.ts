import { describe, expect, it } from 'vitest';
import { workEntryVersion } from '../../../controller/layout.js';

describe('workEntryVersion', () => {
  it("reads an import's work volume and a copy storage's partial copy of it; nothing else", () => {
    expect(workEntryVersion('shop@v20261205-172326-0563', 'shop')).toBe('v20261205-172326-0563');
    // Seen in the work dir while copy storage made the volume: the leftover sweep threw on it.
    expect(workEntryVersion('shop@v20261205-172326-0563.partial-78fdb15e', 'shop')).toBe(
      'v20261205-172326-0563',
    );
    expect(workEntryVersion('shop-eu@v20261205-172326-0563', 'shop')).toBeUndefined();
    expect(workEntryVersion('shop@junk', 'shop')).toBeUndefined();
    expect(workEntryVersion('shop@v20261205-172326-0563.partial-', 'shop')).toBeUndefined();
  });
});
