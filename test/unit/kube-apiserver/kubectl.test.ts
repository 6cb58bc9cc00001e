import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeApiServer } from '../../support/kube-apiserver/index.js';
import { DATABASES, call, startServer } from './wire.js';

// The real kubectl (on this machine: /usr/bin/kubectl) against the in-process server, through a
// generated kubeconfig: discovery, OpenAPI v3 (server-side field validation), apply (create, then a
// merge patch), get as a Table with the CRD's printer columns, delete. A second, independent client
// of the wire protocol besides @kubernetes/client-node.

const run = promisify(execFile);
let server: KubeApiServer;
let dir: string;
const kubectl = (...args: string[]) =>
  run('kubectl', args, { env: { ...process.env, KUBECONFIG: path.join(dir, 'kubeconfig'), HOME: dir } });

beforeAll(async () => {
  server = await startServer();
  dir = await mkdtemp(path.join(tmpdir(), 'kubectl-'));
  await server.writeKubeconfig(path.join(dir, 'kubeconfig'));
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe('kubectl against the in-process server', () => {
  it('applies the example objects, lists them with printer columns, re-applies a change, deletes', async () => {
    const applied = await kubectl('apply', '-f', path.resolve('crds-examples/examples'));
    expect(applied.stdout).toContain('database.myaas.dev/alice-shop created');
    expect(applied.stdout).toContain('template.myaas.dev/shop created');

    await call(
      server,
      'PATCH',
      `${DATABASES}/alice-shop/status`,
      { status: { phase: 'Ready', connection: { port: 33060 } } },
      'application/merge-patch+json',
    );
    const table = await kubectl('get', 'databases');
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+TEMPLATE\s+PHASE\s+PORT\s+EXPIRES\s+LAST-ACTIVITY\s+AGE$/);
    expect(lines.find((l) => l.startsWith('alice-shop'))).toMatch(/^alice-shop\s+shop\s+Ready\s+33060\s/);
    expect(lines.some((l) => l.startsWith('ci-1234'))).toBe(true);

    const again = await kubectl(
      'apply',
      '-f',
      path.resolve('crds-examples/examples/alice-shop-database.yaml'),
    );
    expect(again.stdout).toContain('database.myaas.dev/alice-shop unchanged');

    const json = JSON.parse((await kubectl('get', 'db', 'alice-shop', '-o', 'json')).stdout);
    expect(json.spec).toMatchObject({ template: 'shop', ttl: '8h', state: 'Running' });
    expect(json.metadata.generation).toBe(1);

    await kubectl('delete', 'database', 'ci-1234');
    expect((await call(server, 'GET', `${DATABASES}/ci-1234`)).status).toBe(404);
  });

  it('shows the server’s 422 for an invalid object, field by field', async () => {
    const file = path.join(dir, 'bad.yaml');
    await writeFile(
      file,
      'apiVersion: myaas.dev/v1alpha1\nkind: Database\nmetadata: {name: bad}\nspec: {template: shop, state: Sleeping}\n',
    );
    const failed = await kubectl('apply', '-f', file).then(
      () => undefined,
      (error: { stderr: string }) => error.stderr,
    );
    expect(failed).toContain('spec.state: Unsupported value: "Sleeping"');
  });
});
