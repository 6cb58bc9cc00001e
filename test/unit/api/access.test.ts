import { describe, expect, it } from 'vitest';
import { memoryQuota } from '../../../controller/api/access.js';
import type { Caller } from '../../../controller/api/auth.js';

const carl: Caller = { name: 'carl', role: 'developer', quota: { memoryMiB: 256 } };
const free: Caller = { name: 'dora', role: 'developer', quota: {} };

describe('memory quota', () => {
  it("gives a database its owner's limit, keeps a smaller ask, and refuses a larger one with 403 and the numbers", () => {
    expect(memoryQuota(carl, undefined)).toBe(256);
    expect(memoryQuota(carl, 128)).toBe(128);
    expect(() => memoryQuota(carl, 512)).toThrow(/512 MiB is over carl's maximum of 256 MiB/);
    expect(() => memoryQuota(carl, 512)).toThrow(expect.objectContaining({ status: 403 }));
  });
  it('without a quota leaves the choice to the spec or the controller default', () => {
    expect(memoryQuota(free, undefined)).toBeUndefined();
    expect(memoryQuota(free, 4096)).toBe(4096);
  });
});
