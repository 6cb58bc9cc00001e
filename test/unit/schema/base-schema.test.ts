import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Layout } from '../../../controller/layout.js';
import { type DatabaseRecord, SCHEMA_FORMAT } from '../../../controller/objects/index.js';
import { SchemaDiffUnavailable, baseSchema } from '../../../controller/schema/base-schema.js';

const VERSION = 'v20261205-080000-a1b2';
const record: DatabaseRecord = {
  template: 'shop',
  templateVersion: VERSION,
  user: { user: 'myaas', password: 'pw' },
  adminPassword: 'admin',
  configured: true,
  resetToken: '',
  protected: false,
};
const schema = { format: SCHEMA_FORMAT, tables: [], indexes: [], views: [], routines: [], triggers: [] };

describe('baseSchema', () => {
  let root: string;
  let layout: Layout;
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'myaas-base-'));
    layout = new Layout(root);
    mkdirSync(layout.templateDir('shop'), { recursive: true });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('is the schema recorded beside the template version the database was cloned from', async () => {
    writeFileSync(layout.versionSchemaFile('shop', VERSION), JSON.stringify(schema));
    expect(await baseSchema(layout, 'mine', record)).toEqual({ template: 'shop', version: VERSION, schema });
  });

  it('a version imported before schemas were recorded: reimport the template', async () => {
    writeFileSync(layout.versionMetaFile('shop', VERSION), '{}');
    const error = await baseSchema(layout, 'mine', record).catch((e) => e);
    expect(error).toBeInstanceOf(SchemaDiffUnavailable);
    expect(error.message).toMatch(
      `template version shop/${VERSION} was imported before schemas were recorded`,
    );
    expect(error.message).toContain('reimport the template (myaas reimport shop)');
  });

  it('a version pruned since: says so, and that a reset moves onto the current one', async () => {
    const error = await baseSchema(layout, 'mine', record).catch((e) => e);
    expect(error).toBeInstanceOf(SchemaDiffUnavailable);
    expect(error.message).toMatch(/is gone .*\(myaas reset mine\)/);
  });

  it('a database not cloned yet, and a schema in another format, are refused with the fix', async () => {
    await expect(baseSchema(layout, 'mine', { ...record, templateVersion: undefined })).rejects.toThrow(
      /not been cloned from template shop yet/,
    );
    writeFileSync(layout.versionSchemaFile('shop', VERSION), JSON.stringify({ ...schema, format: 99 }));
    await expect(baseSchema(layout, 'mine', record)).rejects.toThrow(/format 99.*myaas reimport shop/);
  });
});
