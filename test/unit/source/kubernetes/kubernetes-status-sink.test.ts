import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Layout } from '../../../../controller/layout.js';
import { silentLogger } from '../../../../controller/log.js';
import type { DatabaseRecord, DatabaseStatus, TemplateStatus } from '../../../../controller/objects/index.js';
import { scopeOf } from '../../../../controller/source/kubernetes/custom-resources.js';
import { KubernetesDesiredState } from '../../../../controller/source/kubernetes/kubernetes-desired-state.js';
import { KubernetesStatusSink } from '../../../../controller/source/kubernetes/kubernetes-status-sink.js';
import { loadSchemas } from '../../../../controller/spec/schema.js';
import { StatusForwarder } from '../../../../controller/state/status-sink.js';
import { StatusStore } from '../../../../controller/state/status-store.js';
import { type KubeApiServer, kubeConfigFor } from '../../../support/kube-apiserver/index.js';
import {
  createDatabase,
  createTemplate,
  startExampleServer,
  until,
} from '../../../support/kube-resources.js';

// Status and credentials written back through the real client to the in-process API server: the status
// subresource (generation untouched, observedGeneration the controller's) and an owned Secret that the
// garbage collector removes with its Database.

const PASSWORD = 's3cret-Pa55';

let server: KubeApiServer;
let dir: string;
let desired: KubernetesDesiredState;
let store: StatusStore;
let forwarder: StatusForwarder;

const databases = () => server.resource('myaas.dev', 'databases');
const secrets = () => server.resource('', 'secrets');

const record: DatabaseRecord = {
  template: 'shop',
  user: { user: 'myaas', password: PASSWORD },
  adminPassword: 'admin-secret',
  configured: true,
  resetToken: '',
  protected: false,
};
const readyStatus = (observedGeneration: number): DatabaseStatus => ({
  phase: 'Ready',
  observedGeneration,
  engine: 'mariadb',
  templateVersion: 'v1',
  connection: { host: 'db.example', port: 33061, user: 'myaas', database: 'default' },
  conditions: [
    {
      type: 'Ready',
      status: 'True',
      reason: 'ServerReady',
      message: 'accepting connections',
      lastTransitionTime: '2026-12-06T03:00:00Z',
    },
  ],
});

beforeEach(async () => {
  server = await startExampleServer();
  createDatabase(server, 'alice');
  dir = await mkdtemp(path.join(tmpdir(), 'kube-sink-'));
  store = new StatusStore(new Layout(dir), silentLogger);
  await store.load();
  const kubeConfig = kubeConfigFor(server);
  desired = new KubernetesDesiredState({
    kubeConfig,
    scope: scopeOf('default'),
    schemas: loadSchemas(),
    log: silentLogger,
    retryMinMs: 20,
  });
  await desired.start();
  const sink = new KubernetesStatusSink({
    kubeConfig,
    locate: (key) => desired.locate(key),
    log: silentLogger,
  });
  forwarder = new StatusForwarder({ store, sink, log: silentLogger, retryMs: 30 });
  forwarder.start();
});
afterEach(async () => {
  forwarder.stop();
  await desired.stop();
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe('KubernetesStatusSink', () => {
  it('writes status through /status: observedGeneration set, generation unchanged, no password in the resource', async () => {
    await store.save('Database/alice', readyStatus(1), record);
    await until(() => server.store.get(databases(), 'default', 'alice').status !== undefined);
    const resource = server.store.get(databases(), 'default', 'alice');
    expect(resource.metadata.generation).toBe(1);
    expect(resource.status).toMatchObject({
      phase: 'Ready',
      observedGeneration: 1,
      connection: { host: 'db.example', port: 33061, user: 'myaas', database: 'default' },
      conditions: [{ type: 'Ready', status: 'True' }],
    });
    expect(JSON.stringify(resource)).not.toContain(PASSWORD);
    expect(JSON.stringify(resource)).not.toContain('admin-secret');
    expect(
      server.requests.some((r) =>
        r.startsWith('PATCH /apis/myaas.dev/v1alpha1/namespaces/default/databases/alice/status'),
      ),
    ).toBe(true);
  });

  it('after a spec change, the next status carries the new generation as observedGeneration', async () => {
    server.store.update(databases(), 'default', 'alice', {
      ...server.store.get(databases(), 'default', 'alice'),
      spec: { template: 'shop', state: 'Stopped' },
    });
    await until(() => desired.get('Database/alice')?.generation === 2);
    await store.save(
      'Database/alice',
      { ...readyStatus(desired.get('Database/alice')!.generation), phase: 'Stopped' },
      record,
    );
    await until(
      () =>
        (server.store.get(databases(), 'default', 'alice').status as { phase?: string } | undefined)
          ?.phase === 'Stopped',
    );
    const resource = server.store.get(databases(), 'default', 'alice');
    expect(resource.metadata.generation).toBe(2);
    expect((resource.status as { observedGeneration: number }).observedGeneration).toBe(2);
  });

  it('replaces the whole status: a field the controller dropped goes from the resource too', async () => {
    await store.save('Database/alice', { ...readyStatus(1), message: 'starting' }, record);
    await until(
      () =>
        (server.store.get(databases(), 'default', 'alice').status as { message?: string } | undefined)
          ?.message === 'starting',
    );
    await store.save('Database/alice', readyStatus(1), record);
    await until(
      () =>
        (server.store.get(databases(), 'default', 'alice').status as { message?: string }).message ===
        undefined,
    );
  });

  it('puts the credentials in a Secret owned by the Database, which goes with it (garbage collection)', async () => {
    await store.save('Database/alice', readyStatus(1), record);
    await until(() => server.store.find(secrets(), 'default', 'alice-credentials') !== undefined);
    const secret = server.store.get(secrets(), 'default', 'alice-credentials') as unknown as {
      metadata: { ownerReferences: unknown[]; labels: Record<string, string> };
      data: Record<string, string>;
    };
    const owner = server.store.get(databases(), 'default', 'alice');
    expect(secret.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'myaas.dev/v1alpha1',
        kind: 'Database',
        name: 'alice',
        uid: owner.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    const decoded = Object.fromEntries(
      Object.entries(secret.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]),
    );
    expect(decoded).toEqual({
      host: 'db.example',
      port: '33061',
      username: 'myaas',
      password: PASSWORD,
      database: 'default',
      engine: 'mariadb',
      uri: `mysql://myaas:${PASSWORD}@db.example:33061/default`,
    });
    server.store.delete(databases(), 'default', 'alice');
    await until(() => server.store.find(secrets(), 'default', 'alice-credentials') === undefined);
  });

  it('a changed password replaces the Secret; a Secret of that name that is not the database’s is left alone', async () => {
    await store.save('Database/alice', readyStatus(1), record);
    await until(() => server.store.find(secrets(), 'default', 'alice-credentials') !== undefined);
    await store.save('Database/alice', readyStatus(1), {
      ...record,
      user: { user: 'myaas', password: 'rotated' },
    });
    const password = () =>
      Buffer.from(
        (server.store.get(secrets(), 'default', 'alice-credentials').data as Record<string, string>)
          .password!,
        'base64',
      ).toString();
    await until(() => password() === 'rotated');

    createDatabase(server, 'bob');
    server.store.create(secrets(), 'default', {
      metadata: { name: 'bob-credentials' },
      stringData: { password: 'theirs' },
    });
    await until(() => desired.get('Database/bob') !== undefined);
    await store.save('Database/bob', readyStatus(1), record);
    await until(() => server.store.get(databases(), 'default', 'bob').status !== undefined);
    await forwarder.onIdle();
    const theirs = server.store.get(secrets(), 'default', 'bob-credentials');
    expect(Buffer.from((theirs.data as Record<string, string>).password!, 'base64').toString()).toBe(
      'theirs',
    );
  });

  it('an unavailable API server delays the write; it lands once the server is back', async () => {
    await server.setAvailability('503');
    await store.save('Database/alice', readyStatus(1), record);
    await new Promise((r) => setTimeout(r, 150));
    expect(server.store.get(databases(), 'default', 'alice').status).toBeUndefined();
    await server.setAvailability('up');
    await until(() => server.store.get(databases(), 'default', 'alice').status !== undefined);
  });

  it('writes a Template’s status with the fields its CRD declares', async () => {
    createTemplate(server, 'shop');
    await until(() => desired.get('Template/shop') !== undefined);
    const status: TemplateStatus = {
      phase: 'Ready',
      observedGeneration: 1,
      currentVersion: 'v1',
      versions: ['v1'],
      currentVersionInfo: { createdAt: '2026-12-06T03:00:00Z', dumpBytes: 10, importSeconds: 1 },
      lastImport: { version: 'v1', startedAt: '2026-12-06T03:00:00Z', result: 'Succeeded', errorLine: 3 },
      conditions: [],
    };
    await store.save('Template/shop', status, {});
    await until(
      () =>
        server.store.get(server.resource('myaas.dev', 'templates'), 'default', 'shop').status !== undefined,
    );
    expect(server.store.get(server.resource('myaas.dev', 'templates'), 'default', 'shop').status).toEqual({
      phase: 'Ready',
      observedGeneration: 1,
      currentVersion: 'v1',
      versions: ['v1'],
      lastImport: { version: 'v1', startedAt: '2026-12-06T03:00:00Z', result: 'Succeeded' },
      conditions: [],
    });
  });
});
