import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ApiObject } from '../../../controller/api/objects.js';
import { banner } from '../../../controller/cli/banner.js';
import { sameObject } from '../../../controller/cli/commands/apply.js';
import { notReadyProblem } from '../../../controller/cli/commands/connect.js';
import { problemsOf, templateHeaders, templateRow } from '../../../controller/cli/commands/get.js';
import { extendedExpiry } from '../../../controller/cli/commands/lifecycle.js';
import { progressText } from '../../../controller/cli/format.js';
import { validatePaths } from '../../../controller/cli/validate.js';
import type { SpecObject } from '../../../controller/objects/index.js';
import { parseSpecFile } from '../../../controller/spec/parse.js';
import { loadSchemas } from '../../../controller/spec/schema.js';

const schemas = loadSchemas();
const parse = (yaml: string): SpecObject => {
  const result = parseSpecFile(Buffer.from(yaml), 'x.yaml', schemas);
  expect(result.problems).toEqual([]);
  return result.objects[0]!.object;
};
const database = (extra = '', spec = 'template: shop\n  ttl: 3600') =>
  parse(`apiVersion: myaas.dev/v1alpha1\nkind: Database\nmetadata:\n  name: x\n${extra}spec:\n  ${spec}\n`);

describe('get templates', () => {
  const now = Date.parse('2026-01-01T12:00:00Z');
  const template = (status: Record<string, unknown>): ApiObject => ({
    apiVersion: 'myaas.dev/v1alpha1',
    kind: 'Template',
    metadata: { name: 'shop' },
    spec: { engine: 'mariadb', source: { path: 'shop.sql' } },
    status,
  });

  it('shows a running import as percent and eta', () => {
    expect(progressText({ bytesRead: 50, bytesTotal: 200, etaSeconds: 90 })).toBe('25% eta 90s');
    expect(progressText({ bytesRead: 1, bytesTotal: 3, etaSeconds: -1, itemsDone: 4, itemsTotal: 10 })).toBe(
      '4/10 items 33%',
    );
    expect(progressText(undefined)).toBe('-');
    const row = templateRow(
      template({
        phase: 'Importing',
        progress: { bytesRead: 300, bytesTotal: 400, bytesPerSecond: 10, etaSeconds: 600 },
        lastImport: { version: 'v2', startedAt: '2026-01-01T11:59:00Z' },
        createdAt: '2025-12-30T12:00:00Z',
      }),
      false,
      now,
    );
    expect(templateHeaders(false)).toEqual([
      'NAME',
      'PHASE',
      'VERSION',
      'LAST IMPORT',
      'PROGRESS',
      'POOL',
      'AGE',
    ]);
    expect(row).toEqual(['shop', 'Importing', '<none>', 'Running 60s ago', '75% eta 10m', '-', '2d']);
  });

  it("AGE counts from the template's creation, not from its last import", () => {
    const row = templateRow(
      template({
        phase: 'Ready',
        currentVersion: 'v3',
        lastImport: { version: 'v3', startedAt: '2026-01-01T11:59:30Z', result: 'Succeeded' },
        createdAt: '2025-12-29T12:00:00Z',
      }),
      false,
      now,
    );
    expect(row[4]).toBe('-');
    expect(row[6]).toBe('3d');
  });

  it('POOL shows ready members of the current version out of those asked for', () => {
    const row = templateRow(template({ phase: 'Ready', pool: { ready: 1, target: 3 } }), false, now);
    expect(row[5]).toBe('1/3');
    expect(templateRow(template({ phase: 'Ready', pool: { ready: 0, target: 0 } }), false, now)[5]).toBe('-');
  });
});

describe('extend', () => {
  const now = Date.parse('2026-01-01T12:00:00Z');
  it('sets the expiry to now + the duration, never earlier than it was', () => {
    expect(extendedExpiry('2026-01-01T12:10:00Z', 7200, now)?.toISOString()).toBe('2026-01-01T14:00:00.000Z');
    expect(extendedExpiry(undefined, 60, now)?.toISOString()).toBe('2026-01-01T12:01:00.000Z');
    expect(extendedExpiry('2026-01-01T20:00:00Z', 7200, now)).toBeUndefined();
  });
});

describe('apply', () => {
  it('takes an object as the controller reads it: same spec in other words is unchanged', () => {
    expect(sameObject(database(), database('', 'template: shop\n  ttl: 1h\n  state: Running'))).toBe(true);
    expect(sameObject(database(), database('', 'template: shop\n  ttl: 2h'))).toBe(false);
    expect(sameObject(database(), database('', 'template: shop\n  ttl: 1h\n  state: Stopped'))).toBe(false);
  });
  it('ignores the owner annotation the API set, unless the applied object names one', () => {
    const owned = database('  annotations: { myaas.dev/owner: alice }\n');
    expect(sameObject(owned, database())).toBe(true);
    expect(sameObject(owned, database('  annotations: { myaas.dev/owner: bob }\n'))).toBe(false);
    expect(sameObject(owned, database('  labels: { team: a }\n'))).toBe(false);
  });
});

const apiDatabase = (phase: string, file: string): ApiObject => ({
  apiVersion: 'myaas.dev/v1alpha1',
  kind: 'Database',
  metadata: { name: 'mine' },
  spec: { template: 'shop' },
  status: { phase },
  source: { file, line: 1 },
});

describe('connect and describe', () => {
  it('connect on a stopped database says how to start it', () => {
    expect(notReadyProblem(apiDatabase('Stopped', 'api-managed/database-mine.yaml'))).toBe(
      'database mine is stopped: start it with `myaas start mine --wait`',
    );
    expect(notReadyProblem(apiDatabase('Stopped', 'team.yaml'))).toMatch(
      /set spec.state: Running in team.yaml/,
    );
    expect(notReadyProblem(apiDatabase('Expired', 'team.yaml'))).toMatch(/myaas restore mine/);
    expect(notReadyProblem(apiDatabase('Ready', 'team.yaml'))).toBeUndefined();
  });
  it("describe lists the object's problems and its file's", () => {
    const problems = [
      { file: 'team.yaml', key: 'Database/mine', text: 'team.yaml:1: Database/mine: spec.template: nope' },
      { file: 'team.yaml', key: 'Database/other', text: 'other' },
      { file: 'team.yaml', text: 'team.yaml: does not parse' },
      { file: 'b.yaml', text: 'b.yaml: does not parse' },
    ];
    expect(problemsOf(apiDatabase('Pending', 'team.yaml'), problems)).toEqual([
      'team.yaml:1: Database/mine: spec.template: nope',
      'team.yaml: does not parse',
    ]);
  });
});

describe('validate', () => {
  it('catches two databases fixing one port, across files', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'myaas-validate-'));
    try {
      const db = (name: string, port: number) =>
        `apiVersion: myaas.dev/v1alpha1\nkind: Database\nmetadata: { name: ${name} }\nspec: { template: shop, port: ${port} }\n`;
      writeFileSync(path.join(dir, 'a.yaml'), db('a', 33061));
      writeFileSync(path.join(dir, 'b.yaml'), `${db('b', 33062)}---\n${db('c', 33061)}`);
      const report = await validatePaths([dir], schemas);
      expect(report.problems).toEqual([
        {
          file: path.join(dir, 'b.yaml'),
          line: 6,
          key: 'Database/c',
          field: 'spec.port',
          message: `port 33061 is also fixed by Database/a (${path.join(dir, 'a.yaml')}); give each database its own port, or none`,
        },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the quick start banner', () => {
  it('names the API, the three next commands and how to stop everything; the UI only when given', () => {
    const text = banner('http://127.0.0.1:5001');
    expect(text).toContain('API: http://127.0.0.1:5001');
    expect(text).not.toContain('UI');
    expect(text.match(/^ {2}npx myaas /gm)).toHaveLength(3);
    expect(text).toContain('To stop everything: npx myaas down');
    expect(banner('http://127.0.0.1:5001', 'http://127.0.0.1:5001/ui/')).toContain(
      'Web UI: http://127.0.0.1:5001/ui/',
    );
  });
});
