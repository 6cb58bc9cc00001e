import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeApiServer } from '../../support/kube-apiserver/index.js';
import { CRDS, DATABASES, type Json, call, database, startServer } from './wire.js';

// The CRD's openAPIV3Schema as the API server applies it ("Validation", "Defaulting", "Field pruning"
// in the CustomResourceDefinition docs; api-conventions.md "Validation"): invalid objects are 422
// Invalid with one cause per field; unknown fields are pruned, or refused under fieldValidation=Strict.

let server: KubeApiServer;
beforeEach(async () => {
  server = await startServer();
});
afterEach(() => server.close());

const causes = (body: Json) => (body.details?.causes ?? []).map((c: Json) => `${c.field}: ${c.reason}`);

describe('custom resources against the real CRD schemas (crds-examples)', () => {
  it('type, enum, pattern, minimum and maximum: 422 with a cause naming each field', async () => {
    const bad = await call(
      server,
      'POST',
      DATABASES,
      database('a', { template: 'Shop!', state: 'Sleeping', port: 80, memoryMiB: 'lots' }),
    );
    expect(bad.status).toBe(422);
    expect(bad.body).toMatchObject({
      kind: 'Status',
      reason: 'Invalid',
      details: { name: 'a', group: 'myaas.dev', kind: 'Database' },
    });
    expect(causes(bad.body).sort()).toEqual([
      'spec.memoryMiB: FieldValueTypeInvalid',
      'spec.port: FieldValueInvalid',
      'spec.state: FieldValueNotSupported',
      'spec.template: FieldValueInvalid',
    ]);
    expect(bad.body.message).toMatch(/^Database\.myaas\.dev "a" is invalid: \[/);
    const high = await call(server, 'POST', DATABASES, database('a', { template: 'shop', port: 70000 }));
    expect(high.body.details.causes[0].message).toContain('less than or equal to 65535');
  });

  it('required fields: spec itself, and Template spec.engine/source as the CRD requires them', async () => {
    const noSpec = await call(server, 'POST', DATABASES, {
      apiVersion: 'myaas.dev/v1alpha1',
      kind: 'Database',
      metadata: { name: 'a' },
    });
    expect(causes(noSpec.body)).toEqual(['spec: FieldValueRequired']);
    const template = await call(server, 'POST', '/apis/myaas.dev/v1alpha1/namespaces/default/templates', {
      apiVersion: 'myaas.dev/v1alpha1',
      kind: 'Template',
      metadata: { name: 't' },
      spec: {},
    });
    expect(template.status).toBe(422);
    expect(causes(template.body).some((c: string) => c.startsWith('spec.source: FieldValueRequired'))).toBe(
      true,
    );
  });

  it('int-or-string (ttl): a number or a duration string, not anything else', async () => {
    expect(
      (await call(server, 'POST', DATABASES, database('a', { template: 'shop', ttl: 3600 }))).status,
    ).toBe(201);
    expect(
      (await call(server, 'POST', DATABASES, database('b', { template: 'shop', ttl: '8h' }))).status,
    ).toBe(201);
    const bad = await call(server, 'POST', DATABASES, database('c', { template: 'shop', ttl: 'soon' }));
    expect(bad.status).toBe(422);
    expect(causes(bad.body)).toEqual(['spec.ttl: FieldValueInvalid']);
  });

  it('defaults are filled in (state: Running, protected: false)', async () => {
    const created = await call(server, 'POST', DATABASES, database('a'));
    expect(created.body.spec).toEqual({ template: 'shop', state: 'Running', protected: false });
  });

  it('unknown fields are pruned by default and refused (400) under fieldValidation=Strict', async () => {
    const pruned = await call(server, 'POST', DATABASES, database('a', { template: 'shop', colour: 'red' }));
    expect(pruned.status).toBe(201);
    expect(pruned.body.spec.colour).toBeUndefined();
    const strict = await call(
      server,
      'POST',
      `${DATABASES}?fieldValidation=Strict`,
      database('b', { template: 'shop', colour: 'red' }),
    );
    expect(strict.status).toBe(400);
    expect(strict.body.message).toContain('unknown field "spec.colour"');
  });

  it('x-kubernetes-preserve-unknown-fields keeps what it holds', async () => {
    const file = path.join(tmpdir(), `widgets-${process.pid}.crd.yaml`);
    await writeFile(
      file,
      `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: widgets.example.com }
spec:
  group: example.com
  scope: Namespaced
  names: { kind: Widget, plural: widgets }
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                free: { type: object, x-kubernetes-preserve-unknown-fields: true }
                size: { type: integer, minimum: 1 }
`,
    );
    await server.close();
    server = await startServer({ crdFiles: [...CRDS, file] });
    const created = await call(server, 'POST', '/apis/example.com/v1/namespaces/default/widgets', {
      apiVersion: 'example.com/v1',
      kind: 'Widget',
      metadata: { name: 'w' },
      spec: { free: { anything: { goes: [1, 2] } }, size: 2, dropped: true },
    });
    expect(created.status).toBe(201);
    expect(created.body.spec).toEqual({ free: { anything: { goes: [1, 2] } }, size: 2 });
    await rm(file, { force: true });
  });

  it('metadata.name must be a DNS-1123 subdomain', async () => {
    const bad = await call(server, 'POST', DATABASES, database('Not_Valid'));
    expect(bad.status).toBe(422);
    expect(causes(bad.body)).toEqual(['metadata.name: FieldValueInvalid']);
  });
});
