import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Layout } from '../../../../controller/layout.js';
import { silentLogger } from '../../../../controller/log.js';
import {
  type RunningKubernetesController,
  startKubernetesController,
} from '../../../../controller/run-kubernetes.js';
import { CopyStorage } from '../../../../controller/storage/copy-storage.js';
import { FakeEngine, FakeRuntime } from '../../../support/fakes.js';
import { type KubeApiServer, kubeConfigFor } from '../../../support/kube-apiserver/index.js';
import {
  closeControllerFixture,
  createDatabase,
  createTemplate,
  kubernetesConfig,
  openControllerFixture,
} from '../../../support/kube-resources.js';
import { writeReadyVersion } from '../../../support/reconciler-deps.js';
import { waitFor } from '../../../support/wait.js';

// The assembled `--source kubernetes` controller (same Controller and reconcilers as file mode, a fake
// runtime): custom resources in, status out on the same resources.

let server: KubeApiServer;
let dir: string;
let running: RunningKubernetesController | undefined;

beforeEach(async () => {
  ({ server, dir } = await openControllerFixture('kube-controller-'));
});
afterEach(async () => {
  await closeControllerFixture({ server, dir }, running);
  running = undefined;
});

/** Waits for `test`; on a timeout says what the controller stored for the database (its status). */
const until = (test: () => boolean): Promise<unknown> =>
  waitFor('condition', test, 10_000, 20).catch((error: Error) => {
    throw new Error(
      `${error.message}; Database/alice stored: ${JSON.stringify(running?.store.get('Database/alice')?.status)}`,
    );
  });

it('reconciles the custom resources and publishes their status (observedGeneration = metadata.generation)', async () => {
  const templates = server.resource('myaas.dev', 'templates');
  const databases = server.resource('myaas.dev', 'databases');
  createTemplate(server, 'shop');
  createDatabase(server, 'alice');
  running = await startKubernetesController(kubernetesConfig(dir), silentLogger, {
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
  const databases = server.resource('myaas.dev', 'databases');
  const secrets = server.resource('', 'secrets');
  // A ready template version on disk, as an import leaves it (the dump itself is not needed any more).
  await writeReadyVersion(new Layout(path.join(dir, 'data')), 'shop', 'v20261206-030000-aaaa', {
    image: 'mariadb:11.4',
    adminPassword: 'template-admin',
  });
  createTemplate(server, 'shop');
  createDatabase(server, 'alice');
  const runtime = new FakeRuntime();
  const engine = new FakeEngine();
  running = await startKubernetesController(
    kubernetesConfig(dir, { hostname: 'db.example', removalGraceSeconds: 0, resyncSeconds: 1 }),
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
  await running.controller?.onIdle();
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
  const starting = startKubernetesController(kubernetesConfig(dir, { leaderElect: true }), silentLogger, {
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
