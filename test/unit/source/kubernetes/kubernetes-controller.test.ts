import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { defaultConfig } from '../../../../controller/config.js';
import { silentLogger } from '../../../../controller/log.js';
import {
  type RunningKubernetesController,
  startKubernetesController,
} from '../../../../controller/run-kubernetes.js';
import { CopyStorage } from '../../../../controller/storage/copy-storage.js';
import { FakeRuntime } from '../../../support/fakes.js';
import { KubeApiServer, kubeConfigFor } from '../../../support/kube-apiserver/index.js';

// The assembled `--source kubernetes` controller (same Controller and reconcilers as file mode, a fake
// runtime): custom resources in, status out on the same resources.

const CRDS = ['database', 'template'].map((k) => path.resolve(`crds-examples/${k}.crd.yaml`));
let server: KubeApiServer;
let dir: string;
let running: RunningKubernetesController | undefined;

beforeEach(async () => {
  server = new KubeApiServer({ crdFiles: CRDS });
  await server.listen();
  dir = await mkdtemp(path.join(tmpdir(), 'kube-controller-'));
});
afterEach(async () => {
  await running?.stop();
  running = undefined;
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

async function until(test: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

it('reconciles the custom resources and publishes their status (observedGeneration = metadata.generation)', async () => {
  const templates = server.resource('myaas.dev', 'templates');
  const databases = server.resource('myaas.dev', 'databases');
  server.store.create(templates, 'default', {
    apiVersion: 'myaas.dev/v1alpha1',
    kind: 'Template',
    metadata: { name: 'shop' },
    spec: { engine: 'mariadb', source: { path: 'shop.sql.gz' } },
  });
  server.store.create(databases, 'default', {
    apiVersion: 'myaas.dev/v1alpha1',
    kind: 'Database',
    metadata: { name: 'alice' },
    spec: { template: 'shop' },
  });
  const config = {
    ...defaultConfig(dir),
    source: 'kubernetes' as const,
    dataDir: path.join(dir, 'data'),
    dumpsDir: path.join(dir, 'dumps'),
    runtime: 'docker' as const,
  };
  running = await startKubernetesController(config, silentLogger, {
    kubeConfig: kubeConfigFor(server),
    runtime: new FakeRuntime(),
    storage: new CopyStorage(silentLogger),
  });
  const statusOf = (resource: typeof templates, name: string) =>
    server.store.get(resource, 'default', name).status as
      | { phase?: string; observedGeneration?: number; message?: string }
      | undefined;
  await until(
    () =>
      statusOf(templates, 'shop')?.observedGeneration === 1 &&
      statusOf(databases, 'alice')?.observedGeneration === 1,
  );
  // No dump (no dumps dir even): the template says so; the database waits for it. The resource's status
  // is the store's, in the CRD's fields.
  const template = server.store.get(templates, 'default', 'shop').status as {
    phase: string;
    conditions: { reason: string }[];
  };
  expect(template.phase).toBe('Pending');
  expect(template.conditions.map((c) => c.reason)).toEqual(['DumpNotFound']);
  const database = server.store.get(databases, 'default', 'alice').status as {
    phase: string;
    message: string;
  };
  expect(database).toMatchObject({
    phase: 'Pending',
    message: 'waiting for template shop to have a ready version',
  });
  expect(running.store.get('Database/alice')!.status.phase).toBe('Pending');
  expect(server.store.get(databases, 'default', 'alice').metadata.generation).toBe(1);
});
