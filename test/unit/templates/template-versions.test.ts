import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Layout } from '../../../controller/layout.js';
import { type VersionMeta, emptySchema } from '../../../controller/objects/index.js';
import { TemplateVersions } from '../../../controller/templates/template-versions.js';

const V1 = 'v20261205-080000-a1b2';
const V2 = 'v20261205-090000-c3d4';

describe('TemplateVersions and recorded schemas', () => {
  let root: string;
  let layout: Layout;
  let versions: TemplateVersions;
  const version = (id: string, parts: { dir?: boolean; meta?: boolean; schema?: boolean }) => {
    if (parts.dir) mkdirSync(layout.versionDir('shop', id), { recursive: true });
    mkdirSync(layout.templateDir('shop'), { recursive: true });
    if (parts.meta) writeFileSync(layout.versionMetaFile('shop', id), JSON.stringify({ version: id }));
    if (parts.schema) writeFileSync(layout.versionSchemaFile('shop', id), '{}');
  };

  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'myaas-versions-'));
    layout = new Layout(root);
    versions = new TemplateVersions(layout);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('a schema file is no version of its own, and a complete version may have one or not', async () => {
    version(V1, { dir: true, meta: true, schema: true });
    version(V2, { dir: true, meta: true });
    expect((await versions.list('shop')).map((v: VersionMeta) => v.version)).toEqual([V2, V1]);
    expect(await versions.incomplete('shop')).toEqual([]);
  });

  it('a schema left alone (a crash before the metadata, or after the data went) is incomplete', async () => {
    version(V1, { dir: true, schema: true });
    version(V2, { schema: true });
    expect((await versions.incomplete('shop')).sort()).toEqual([V1, V2]);
  });

  it('removeMeta removes the recorded schema with the metadata; writeSchema writes it beside', async () => {
    version(V1, { dir: true, meta: true });
    await versions.writeSchema('shop', V1, emptySchema());
    expect(existsSync(`${layout.versionDir('shop', V1)}.schema.json`)).toBe(true);
    await versions.removeMeta('shop', V1);
    expect(existsSync(layout.versionSchemaFile('shop', V1))).toBe(false);
    expect(existsSync(layout.versionMetaFile('shop', V1))).toBe(false);
  });
});
