import { describe, expect, it } from 'vitest';
import { parseSpecFile } from '../../../controller/spec/parse.js';
import { formatProblem } from '../../../controller/spec/problems.js';
import { loadSchemas } from '../../../controller/spec/schema.js';
import { databaseObject, specFile, templateObject } from '../../support/specs.js';

const schemas = loadSchemas();
const parse = (text: string, file = 'specs/x.yaml') => parseSpecFile(Buffer.from(text), file, schemas);
const messages = (text: string) => parse(text).problems.map(formatProblem);

describe('parseSpecFile', () => {
  it('reads a multi-document file with both kinds and fills defaults', () => {
    const result = parse(specFile(templateObject('shop'), databaseObject('alice', { ttl: '8h' })));
    expect(result.problems).toEqual([]);
    expect(result.objects.map((o) => o.object)).toEqual([
      {
        kind: 'Template',
        metadata: { name: 'shop', labels: {}, annotations: {} },
        spec: { engine: 'mariadb', source: { path: 'shop.sql' }, import: {} },
      },
      {
        kind: 'Database',
        metadata: { name: 'alice', labels: {}, annotations: {} },
        spec: { template: 'shop', ttlSeconds: 28800, state: 'Running', protected: false },
      },
    ]);
    expect(result.objects[1]!.line).toBe(10);
  });

  it('gives equal digests to equal content however it is formatted', () => {
    const a = parse(specFile(databaseObject('alice', { ttl: 60 })));
    const b = parse(
      '{"apiVersion":"myaas.dev/v1alpha1","kind":"Database","metadata":{"name":"alice"},\n"spec":{"ttl":"60","template":"shop"}}',
    );
    expect(a.objects[0]!.digest).toBe(b.objects[0]!.digest);
  });

  it('names file, line, object, field and what is allowed for an unknown field', () => {
    const text = specFile(databaseObject('alice', { tll: '8h' }));
    expect(messages(text)).toEqual([
      'specs/x.yaml:7: Database/alice: spec.tll: unknown field; allowed fields here: template, source, ttl, expiresAt, state, port, memoryMiB, protected, idle',
    ]);
  });

  it('reports wrong types', () => {
    expect(messages(specFile(databaseObject('alice', { port: 'abc' })))).toEqual([
      'specs/x.yaml:7: Database/alice: spec.port: expected integer, got string: Fixed host port (1024-65535); by default a free port is chosen.',
    ]);
  });

  it('reports bad enums with the allowed values', () => {
    expect(messages(specFile(databaseObject('alice', { state: 'running' })))).toEqual([
      'specs/x.yaml:7: Database/alice: spec.state: `running` is not allowed; allowed: Running, Stopped',
    ]);
    expect(messages(specFile(templateObject('shop', { engine: 'oracle' })))[0]).toContain(
      'Template/shop: spec.engine: `oracle` is not allowed; allowed: mariadb, mysql',
    );
  });

  it('reports bad names', () => {
    expect(messages(specFile(databaseObject('Alice_1')))).toEqual([
      'specs/x.yaml:4: Database/?: metadata.name: `Alice_1` is not a valid name; allowed: lower-case letters, digits and -, starting and ending with a letter or digit, at most 63',
    ]);
    expect(messages(specFile(databaseObject('a'.repeat(64))))[0]).toContain('is 64 characters long');
    expect(messages(specFile(databaseObject('alice', { template: 'Shop' })))[0]).toContain(
      'Database/alice: spec.template: `Shop` is not valid: Name of the Template to clone',
    );
  });

  it('reports bad durations', () => {
    for (const ttl of ['8x', '0', '-5', 'soon', 0, 1.5]) {
      const [message] = messages(specFile(databaseObject('alice', { ttl })));
      expect(message).toMatch(
        /^specs\/x\.yaml:7: Database\/alice: spec\.ttl: .* is not valid: .*30s, 15m, 8h, 7d/,
      );
    }
  });

  it('accepts every duration form', () => {
    for (const [ttl, seconds] of [
      ['30s', 30],
      ['15m', 900],
      ['8h', 28800],
      ['7d', 604800],
      [120, 120],
      ['45', 45],
    ] as const) {
      const result = parse(specFile(databaseObject('alice', { ttl })));
      expect(result.objects[0]!.object.spec).toMatchObject({ ttlSeconds: seconds });
    }
  });

  it('refuses ttl together with expiresAt', () => {
    expect(
      messages(specFile(databaseObject('alice', { ttl: '1h', expiresAt: '2030-01-01T00:00:00Z' }))),
    ).toEqual([
      'specs/x.yaml:6: Database/alice: spec: ttl and expiresAt are exclusive; give one of them, or neither.',
    ]);
  });

  it('refuses a bad expiresAt', () => {
    expect(messages(specFile(databaseObject('alice', { expiresAt: 'tomorrow' })))[0]).toContain(
      'spec.expiresAt: `tomorrow` is not valid: Absolute expiry time, RFC 3339',
    );
  });

  it('refuses absolute dump paths and paths that leave the dumps dir', () => {
    expect(messages(specFile(templateObject('shop', { source: { path: '/etc/shadow.sql' } })))[0]).toContain(
      'Template/shop: spec.source.path: `/etc/shadow.sql` is not valid',
    );
    expect(messages(specFile(templateObject('shop', { source: { path: 'a/../../x.sql' } })))).toEqual([
      'specs/x.yaml:8: Template/shop: spec.source.path: `a/../../x.sql` leaves the dumps dir (..); give a path inside it, e.g. shop.sql.gz',
    ]);
    expect(messages(specFile(templateObject('shop', { source: { path: 'shop.csv' } })))[0]).toContain(
      'ending in .sql or .sql.gz',
    );
  });

  it('reports missing required fields with what they are', () => {
    expect(
      messages(
        specFile({ apiVersion: 'myaas.dev/v1alpha1', kind: 'Database', metadata: { name: 'a' }, spec: {} }),
      ),
    ).toEqual([
      'specs/x.yaml:5: Database/a: spec.template: is required: name the Template to clone (e.g. template: shop), or give source.database to branch another database',
    ]);
  });

  it('takes a branch (spec.source.database) instead of a template, never both, never itself', () => {
    const db = (spec: Record<string, unknown>) =>
      specFile({ apiVersion: 'myaas.dev/v1alpha1', kind: 'Database', metadata: { name: 'b' }, spec });
    const branch = parse(db({ source: { database: 'alice-shop' }, ttl: '2h' }));
    expect(branch.problems).toEqual([]);
    expect(branch.objects[0]?.object.spec).toMatchObject({
      source: { database: 'alice-shop' },
      ttlSeconds: 7200,
    });
    expect(branch.objects[0]?.object.spec).not.toHaveProperty('template');
    expect(messages(db({ template: 'shop', source: { database: 'alice-shop' } }))).toEqual([
      'specs/x.yaml:8: Database/b: spec.source: template and source are exclusive: keep template to clone a template, or source to branch a database',
    ]);
    expect(messages(db({ source: { database: 'b' } }))).toEqual([
      'specs/x.yaml:7: Database/b: spec.source.database: names this database itself: name another database',
    ]);
    expect(messages(db({ source: { db: 'x' } }))[0]).toMatch(/spec\.source\.(db|database)/);
  });

  it('reports wrong apiVersion and kind', () => {
    expect(messages('apiVersion: v1\nkind: Database\n')).toEqual([
      'specs/x.yaml:1: apiVersion: expected myaas.dev/v1alpha1, got "v1"',
    ]);
    expect(messages('apiVersion: myaas.dev/v1alpha1\nkind: Pod\n')).toEqual([
      'specs/x.yaml:2: kind: "Pod" is not allowed; allowed: Template, Database',
    ]);
  });

  it('reports YAML syntax errors with their line', () => {
    expect(messages('apiVersion: myaas.dev/v1alpha1\nkind: [Database\n')[0]).toMatch(
      /^specs\/x\.yaml:\d+: YAML: /,
    );
  });

  it('refuses invalid UTF-8, oversized files and duplicate keys in one file', () => {
    expect(parseSpecFile(Buffer.from([0x6b, 0xff, 0xfe]), 'f.yaml', schemas).problems[0]!.message).toContain(
      'not valid UTF-8',
    );
    expect(
      parseSpecFile(Buffer.alloc(2 * 1024 * 1024, 0x20), 'f.yaml', schemas).problems[0]!.message,
    ).toContain('limited to');
    const dup = messages(specFile(databaseObject('a'), databaseObject('a')));
    expect(dup).toEqual(['specs/x.yaml:8: Database/a: Database/a is declared twice in this file; keep one']);
  });

  it('skips empty documents and refuses non-mappings', () => {
    expect(parse('---\n---\n').problems).toEqual([]);
    expect(messages('- a\n- b\n')).toEqual([
      'specs/x.yaml:1: expected a mapping with apiVersion, kind, metadata and spec',
    ]);
  });

  it('refuses unknown metadata fields and non-string annotations', () => {
    expect(messages(specFile(databaseObject('a', {}, { uid: 'x', annotations: { n: 1 } })))).toEqual([
      'specs/x.yaml:5: Database/a: metadata.uid: unknown field; allowed fields here: name, namespace, labels, annotations',
      'specs/x.yaml:7: Database/a: metadata.annotations.n: expected a string, got number; quote the value',
    ]);
  });

  it('post-import steps: scripts inside the dumps dir ending in .sql, or inline SQL, one of the two per step', () => {
    const withSteps = (steps: unknown[], extra: Record<string, unknown> = {}) =>
      parse(specFile(templateObject('m', { import: { steps, ...extra } })));
    const ok = withSteps([{ path: './masks/emails.sql' }, { sql: 'DELETE FROM orders' }], {
      schemaOnly: true,
    });
    expect(ok.problems).toEqual([]);
    expect(ok.objects[0]!.object.spec).toMatchObject({
      import: { steps: [{ path: 'masks/emails.sql' }, { sql: 'DELETE FROM orders' }], schemaOnly: true },
    });
    expect(withSteps([{ path: '../etc/x.sql' }]).problems.map(formatProblem)).toEqual([
      expect.stringMatching(
        /^specs\/x\.yaml:\d+: Template\/m: spec\.import\.steps\.0\.path: `\.\.\/etc\/x\.sql` is not inside the dumps dir/,
      ),
    ]);
    expect(withSteps([{ path: 'notes.txt' }]).problems.map(formatProblem)).toEqual([
      expect.stringMatching(
        /spec\.import\.steps\.0\.path: `notes\.txt` is not valid: SQL script relative to the dumps dir, ending in \.sql/,
      ),
    ]);
    expect(
      withSteps([{ path: 'a.sql', sql: 'x' }])
        .problems.map(formatProblem)
        .join('\n'),
    ).toMatch(/spec\.import\.steps\.0: .*either path .* or sql .*not both/);
    expect(withSteps([{}]).problems.map(formatProblem).join('\n')).toMatch(/either path .* or sql/);
  });
});
