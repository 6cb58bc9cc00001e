import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { defaultConfig } from '../../../../controller/config.js';
import { Layout } from '../../../../controller/layout.js';
import { silentLogger } from '../../../../controller/log.js';
import {
  type RunningKubernetesController,
  startKubernetesController,
} from '../../../../controller/run-kubernetes.js';
import { CopyStorage } from '../../../../controller/storage/copy-storage.js';
import { TemplateVersions } from '../../../../controller/templates/template-versions.js';
import { FakeEngine, FakeRuntime } from '../../../support/fakes.js';
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
    if (Date.now() > deadline)
      throw new Error(
        `condition not met in time; Database/alice stored: ${JSON.stringify(running?.store.get('Database/alice')?.status)}`,
      );
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

it('a Database resource gets a server and a Secret; an unavailable API server removes nothing; deleting the resource removes both', async () => {
  const templates = server.resource('myaas.dev', 'templates');
  const databases = server.resource('myaas.dev', 'databases');
  const secrets = server.resource('', 'secrets');
  const dataDir = path.join(dir, 'data');
  // A ready template version on disk, as an import leaves it (the dump itself is not needed any more).
  const layout = new Layout(dataDir);
  const version = 'v20261206-030000-aaaa';
  await mkdir(layout.versionDir('shop', version), { recursive: true });
  await new TemplateVersions(layout).writeMeta('shop', {
    version,
    createdAt: Date.now(),
    engine: 'mariadb',
    image: 'mariadb:11.4',
    database: 'default',
    adminPassword: 'template-admin',
    trigger: { specDigest: 'd', dump: '1:1', reimportToken: '' },
    dumpSha256: 'x',
    dumpBytes: 1,
    durationSeconds: 1,
  });
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
  const runtime = new FakeRuntime();
  const engine = new FakeEngine();
  running = await startKubernetesController(
    {
      ...defaultConfig(dir),
      source: 'kubernetes',
      dataDir,
      dumpsDir: path.join(dir, 'dumps'),
      runtime: 'docker',
      hostname: 'db.example',
      removalGraceSeconds: 0,
      resyncSeconds: 1,
    },
    silentLogger,
    {
      kubeConfig: kubeConfigFor(server),
      runtime,
      storage: new CopyStorage(silentLogger),
      engineFor: () => engine,
    },
  );
  const phase = () =>
    (server.store.find(databases, 'default', 'alice')?.status as { phase?: string } | undefined)?.phase;
  await until(
    () => phase() === 'Ready' && server.store.find(secrets, 'default', 'alice-credentials') !== undefined,
  );
  const servers = () => [...runtime.servers.values()].filter((s) => s.owner === 'alice');
  expect(servers()).toHaveLength(1);

  // Away for longer than the removal grace and two resync passes: nothing is removed.
  await server.setAvailability('refuse');
  await until(() => !running!.desired.available);
  await new Promise((r) => setTimeout(r, 2500));
  await running.controller.onIdle();
  expect(servers()).toHaveLength(1);
  expect(runtime.calls.filter((c) => c.startsWith('remove'))).toEqual([]);
  expect(running.desired.get('Database/alice')).toBeDefined();
  await server.setAvailability('up');
  await until(() => running!.desired.available);

  // Deleted for real: the server goes (its clone into the trash), the Secret with its owner.
  server.store.delete(databases, 'default', 'alice');
  await until(
    () => servers().length === 0 && server.store.find(secrets, 'default', 'alice-credentials') === undefined,
  );
  expect(runtime.calls.some((c) => c.startsWith('remove'))).toBe(true);
});

it('--leader-elect: reconciles only once it holds the Lease, and gives it up when stopped', async () => {
  const leases = server.resource('coordination.k8s.io', 'leases');
  // Another replica holds the Lease and keeps it fresh: this one waits.
  const other = server.store.create(leases, 'default', {
    metadata: { name: 'myaas-controller' },
    spec: { holderIdentity: 'other-replica', leaseDurationSeconds: 1 },
  });
  const config = {
    ...defaultConfig(dir),
    source: 'kubernetes' as const,
    leaderElect: true,
    dataDir: path.join(dir, 'data'),
    dumpsDir: path.join(dir, 'dumps'),
    runtime: 'docker' as const,
  };
  const starting = startKubernetesController(config, silentLogger, {
    kubeConfig: kubeConfigFor(server),
    runtime: new FakeRuntime(),
    storage: new CopyStorage(silentLogger),
  });
  let started = false;
  void starting.then(() => {
    started = true;
  });
  // Renewed by "the other replica" for a while: no start.
  for (let i = 0; i < 6; i++) {
    await new Promise((r) => setTimeout(r, 250));
    const current = server.store.get(leases, 'default', 'myaas-controller');
    server.store.update(leases, 'default', 'myaas-controller', {
      ...current,
      spec: { ...(current.spec as object), renewTime: new Date().toISOString() },
    });
  }
  expect(started).toBe(false);
  expect(other.metadata.uid).toBe(server.store.get(leases, 'default', 'myaas-controller').metadata.uid);
  // The other replica is gone: within the lease duration and a retry, this one leads and starts.
  running = await starting;
  const spec = server.store.get(leases, 'default', 'myaas-controller').spec as { holderIdentity: string };
  expect(spec.holderIdentity).toMatch(new RegExp(`-${process.pid}$`));
  await running.stop();
  running = undefined;
  expect(
    (server.store.get(leases, 'default', 'myaas-controller').spec as { holderIdentity: string })
      .holderIdentity,
  ).toBe('');
});
