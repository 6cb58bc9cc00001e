import { describe, expect, it } from 'vitest';
import { specToCrd } from '../../../controller/api/objects.js';
import { effectiveIdlePolicy, parseIdleFlag, readIdlePolicy } from '../../../controller/idle/idle-policy.js';
import type { DatabaseObject, TemplateObject } from '../../../controller/objects/index.js';
import { parseSpecFile } from '../../../controller/spec/parse.js';
import { formatProblem } from '../../../controller/spec/problems.js';
import { loadSchemas } from '../../../controller/spec/schema.js';
import { databaseObject, specFile, templateObject } from '../../support/specs.js';

const schemas = loadSchemas();
const parse = (text: string) => parseSpecFile(Buffer.from(text), 'specs/x.yaml', schemas);
const messages = (text: string) => parse(text).problems.map(formatProblem);

describe('idle policy: spec.idle and spec.databaseDefaults.idle', () => {
  it('reads after as a duration, action Stop by default, and Keep without after', () => {
    expect(readIdlePolicy({ after: '30m' })).toEqual({
      policy: { afterSeconds: 1800, action: 'Stop' },
      problems: [],
    });
    expect(readIdlePolicy({ after: 90, action: 'Delete' }).policy).toEqual({
      afterSeconds: 90,
      action: 'Delete',
    });
    expect(readIdlePolicy({ action: 'Keep' }).policy).toEqual({ action: 'Keep' });
    expect(readIdlePolicy({ action: 'Delete' }).problems[0]?.message).toMatch(
      /is required for action Delete: how long without a client session/,
    );
  });

  it('parses a Database spec.idle and a Template databaseDefaults.idle, and writes them back as specs do', () => {
    const result = parse(
      specFile(
        templateObject('shop', { databaseDefaults: { idle: { after: '2h', action: 'Delete' } } }),
        databaseObject('alice', { idle: { after: '30m' } }),
      ),
    );
    expect(result.problems).toEqual([]);
    const [template, database] = result.objects.map((o) => o.object) as [TemplateObject, DatabaseObject];
    expect(template.spec.databaseDefaults).toEqual({ idle: { afterSeconds: 7200, action: 'Delete' } });
    expect(database.spec.idle).toEqual({ afterSeconds: 1800, action: 'Stop' });
    expect(specToCrd(database)).toMatchObject({ idle: { after: '30m', action: 'Stop' } });
    expect(specToCrd(template)).toMatchObject({
      databaseDefaults: { idle: { after: '2h', action: 'Delete' } },
    });
    // What get -o yaml prints applies back to the same object.
    const again = parse(specFile({ ...databaseObject('alice'), spec: specToCrd(database) }));
    expect((again.objects[0]!.object as DatabaseObject).spec).toEqual(database.spec);
  });

  it('bad input names file, line, object, field and the fix', () => {
    expect(messages(specFile(databaseObject('alice', { idle: { after: 'soon' } })))).toEqual([
      expect.stringMatching(
        /^specs\/x\.yaml:8: Database\/alice: spec\.idle\.after: `soon` is not valid: How long without a client session: a number of seconds or 30s, 15m, 8h, 7d/,
      ),
    ]);
    expect(messages(specFile(databaseObject('alice', { idle: { after: '5m', action: 'Pause' } })))).toEqual([
      expect.stringContaining(
        'Database/alice: spec.idle.action: `Pause` is not allowed; allowed: Stop, Delete, Keep',
      ),
    ]);
    expect(messages(specFile(databaseObject('alice', { idle: { action: 'Stop' } })))).toEqual([
      expect.stringContaining('Database/alice: spec.idle.after: is required for action Stop'),
    ]);
    expect(
      messages(specFile(templateObject('shop', { databaseDefaults: { idle: { afer: '5m' } } }))),
    ).toEqual([
      expect.stringContaining(
        'Template/shop: spec.databaseDefaults.idle.afer: unknown field; allowed fields here: after, action',
      ),
    ]);
    expect(
      messages(specFile(templateObject('shop', { databaseDefaults: { idle: { after: 0 } } }))).join(),
    ).toContain('Template/shop: spec.databaseDefaults.idle.after');
  });

  it("a database's own policy wins over its template's default; Keep (own or default) turns it off", () => {
    const template = { databaseDefaults: { idle: { afterSeconds: 3600, action: 'Delete' as const } } };
    expect(effectiveIdlePolicy({}, template)).toEqual({
      afterSeconds: 3600,
      action: 'Delete',
      from: 'Template',
    });
    expect(effectiveIdlePolicy({ idle: { afterSeconds: 60, action: 'Stop' } }, template)).toEqual({
      afterSeconds: 60,
      action: 'Stop',
      from: 'Database',
    });
    expect(effectiveIdlePolicy({ idle: { action: 'Keep' } }, template)).toBeUndefined();
    expect(effectiveIdlePolicy({}, { databaseDefaults: { idle: { action: 'Keep' } } })).toBeUndefined();
    expect(effectiveIdlePolicy({}, undefined)).toBeUndefined();
    expect(effectiveIdlePolicy({}, {})).toBeUndefined();
  });

  it('the CLI flag: 30m, 30m:delete, :keep; anything else is refused', () => {
    expect(parseIdleFlag('30m')).toEqual({ after: '30m', action: 'Stop' });
    expect(parseIdleFlag('90:Delete')).toEqual({ after: '90s', action: 'Delete' });
    expect(parseIdleFlag('2h:stop')).toEqual({ after: '2h', action: 'Stop' });
    expect(parseIdleFlag(':keep')).toEqual({ action: 'Keep' });
    for (const bad of ['', 'soon', '30m:pause', '30m:stop:x', ':stop', '0'])
      expect(parseIdleFlag(bad), bad).toBeUndefined();
  });
});
