import { describe, expect, it } from 'vitest';
import { age, table, until } from '../../../controller/cli/format.js';

describe('CLI output', () => {
  it('aligns columns like kubectl', () => {
    expect(
      table(
        ['NAME', 'PHASE'],
        [
          ['alice', 'Ready'],
          ['bob-long-name', 'Pending'],
        ],
      ),
    ).toBe('NAME            PHASE\nalice           Ready\nbob-long-name   Pending');
  });
  it('prints short ages and time left', () => {
    const now = Date.parse('2026-01-01T12:00:00Z');
    expect(age('2026-01-01T11:59:15Z', now)).toBe('45s');
    expect(age('2026-01-01T11:00:00Z', now)).toBe('60m');
    expect(age('2025-12-30T12:00:00Z', now)).toBe('2d');
    expect(age(undefined, now)).toBe('<none>');
    expect(until('2026-01-01T20:00:00Z', now)).toBe('8h');
    expect(until('2026-01-01T11:00:00Z', now)).toBe('expired');
    expect(until(undefined, now)).toBe('<never>');
  });
});
