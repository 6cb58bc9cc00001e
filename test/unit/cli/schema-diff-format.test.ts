import { describe, expect, it } from 'vitest';
import { formatSchemaDiff } from '../../../controller/cli/commands/diff.js';

const base = { template: 'shop', version: 'v20261205-080000-a1b2' };

describe('myaas diff output', () => {
  it('one line per change: + added (what it is), - removed, ~ changed: how', () => {
    const text = formatSchemaDiff({
      database: 'mine',
      base,
      changes: [
        { kind: 'table', change: 'added', name: 'audit_log' },
        { kind: 'column', change: 'added', name: 'orders.note', details: ['text', 'null'] },
        {
          kind: 'column',
          change: 'changed',
          name: 'users.email',
          details: ['type varchar(100) -> varchar(255)', 'null -> not null'],
        },
        { kind: 'index', change: 'removed', name: 'orders.idx_created', details: ['on created'] },
      ],
    });
    expect(text.split('\n')).toEqual([
      '+ table audit_log',
      '+ column orders.note (text, null)',
      '~ column users.email: type varchar(100) -> varchar(255); null -> not null',
      '- index orders.idx_created (on created)',
    ]);
  });

  it('says so when nothing changed, naming the base', () => {
    expect(formatSchemaDiff({ database: 'mine', base, changes: [] })).toBe(
      'no schema changes against shop/v20261205-080000-a1b2',
    );
  });
});
