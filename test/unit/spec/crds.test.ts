import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSpecFile } from '../../../controller/spec/parse.js';
import { defaultCrdsDir, loadSchemas } from '../../../controller/spec/schema.js';
import { databaseObject, specFile } from '../../support/specs.js';

const crdsDir = defaultCrdsDir();

describe('CRDs as the one source of truth', () => {
  it('every example object validates', () => {
    const schemas = loadSchemas(crdsDir);
    const dir = path.join(crdsDir, 'examples');
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(2);
    let objects = 0;
    for (const file of files) {
      const result = parseSpecFile(readFileSync(path.join(dir, file)), file, schemas);
      expect(result.problems).toEqual([]);
      objects += result.objects.length;
    }
    expect(objects).toBeGreaterThanOrEqual(3);
  });

  it('carries a full schema, with no preserve-unknown-fields shortcut', () => {
    for (const file of ['template.crd.yaml', 'database.crd.yaml']) {
      const text = readFileSync(path.join(crdsDir, file), 'utf8');
      expect(text).toContain('openAPIV3Schema');
      expect(text).not.toContain('x-kubernetes-preserve-unknown-fields');
    }
  });

  it('a change to a CRD is seen by the validator', () => {
    const spec = specFile(databaseObject('alice', { state: 'Paused' }));
    const before = parseSpecFile(Buffer.from(spec), 'a.yaml', loadSchemas(crdsDir));
    expect(before.problems[0]?.message).toContain('allowed: Running, Stopped');

    const changed = mkdtempSync(path.join(tmpdir(), 'myaas-crds-'));
    cpSync(crdsDir, changed, { recursive: true });
    const crdFile = path.join(changed, 'database.crd.yaml');
    writeFileSync(
      crdFile,
      readFileSync(crdFile, 'utf8').replace('enum: [Running, Stopped]', 'enum: [Running, Stopped, Paused]'),
    );
    try {
      const after = parseSpecFile(Buffer.from(spec), 'a.yaml', loadSchemas(changed));
      expect(after.problems).toEqual([]);
    } finally {
      rmSync(changed, { recursive: true, force: true });
    }
  });
});
