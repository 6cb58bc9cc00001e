import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Layout } from '../../../controller/layout.js';
import { silentLogger } from '../../../controller/log.js';
import {
  type RunningKubernetesController,
  startKubernetesController,
} from '../../../controller/run-kubernetes.js';
import { CopyStorage } from '../../../controller/storage/copy-storage.js';
import { FakeEngine, FakeRuntime } from '../../support/fakes.js';
import { renderChart } from '../../support/helm-subset/render.js';
import { type KubeApiServer, kubeConfigFor } from '../../support/kube-apiserver/index.js';
import {
  closeControllerFixture,
  createDatabase,
  createTemplate,
  kubernetesConfig,
  openControllerFixture,
} from '../../support/kube-resources.js';
import { type Attributes, type RbacObject as Obj, allowed, attributesOf } from '../../support/rbac-check.js';
import { writeReadyVersion } from '../../support/reconciler-deps.js';

// The other half of the RBAC test: the chart's controller Role must be ENOUGH for what the controller
// really does. The assembled `--source kubernetes --leader-elect` controller runs against the in-process
// API server (which has no authorization of its own); every request it made is turned into RBAC's
// request attributes (as the API server's request-info does) and checked against the rules the chart
// renders for the controller's ServiceAccount.

let server: KubeApiServer;
let dir: string;
let running: RunningKubernetesController | undefined;

beforeEach(async () => {
  ({ server, dir } = await openControllerFixture('rbac-sufficient-'));
});
afterEach(async () => {
  await closeControllerFixture({ server, dir }, running);
  running = undefined;
});

it("the controller's requests, leader election included, are all allowed by the chart's RBAC", async () => {
  const databases = server.resource('myaas.dev', 'databases');
  const secrets = server.resource('', 'secrets');
  await writeReadyVersion(new Layout(path.join(dir, 'data')), 'shop', 'v20261206-030000-aaaa', {
    image: 'mariadb:11.4',
    adminPassword: 'template-admin',
  });
  createTemplate(server, 'shop');
  const db = createDatabase(server, 'alice') as { metadata: { uid: string } };
  // A stale credentials Secret of this Database: the controller reads it back and replaces it.
  server.store.create(secrets, 'default', {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'alice-credentials',
      ownerReferences: [
        {
          apiVersion: 'myaas.dev/v1alpha1',
          kind: 'Database',
          name: 'alice',
          uid: db.metadata.uid,
          controller: true,
        },
      ],
    },
    stringData: { password: 'stale' },
  });
  running = await startKubernetesController(
    kubernetesConfig(dir, { hostname: 'db.example', resyncSeconds: 1, leaderElect: true }),
    silentLogger,
    {
      kubeConfig: kubeConfigFor(server),
      runtime: new FakeRuntime(),
      storage: new CopyStorage(silentLogger),
      engineFor: () => new FakeEngine(),
    },
  );
  const deadline = Date.now() + 15_000;
  const done = () =>
    (server.store.find(databases, 'default', 'alice')?.status as { phase?: string } | undefined)?.phase ===
      'Ready' &&
    server.requests.some((r) => r.startsWith('PUT /api/v1/namespaces/default/secrets/alice-credentials')) &&
    server.requests.filter((r) => r.startsWith('PUT /apis/coordination.k8s.io/')).length > 0;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`not done in time; requests: ${server.requests.join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await running.stop();
  running = undefined;

  // The release in the namespace it watches, two replicas (so the Lease rules are there).
  const manifests = renderChart(
    path.resolve('deploy/helm/myaas'),
    { name: 'myaas', namespace: 'default' },
    {
      controller: { replicas: 2 },
      // This run is the controller on its own runtime (no node agents): the chart's matching shape.
      nodeAgent: { enabled: false },
    },
  ).manifests as unknown as Obj[];
  const made = [...new Set(server.requests)].map((r) => ({ request: r, attributes: attributesOf(r) }));
  const resourceRequests = made.filter((m) => m.attributes);
  const kinds = new Set(resourceRequests.map((m) => `${m.attributes?.verb} ${m.attributes?.resource}`));
  // What the run exercised (so the check below is not over an empty or partial list).
  for (const expected of [
    'list databases',
    'watch databases',
    'list templates',
    'watch templates',
    'patch databases/status',
    'patch templates/status',
    'create secrets',
    'get secrets',
    'update secrets',
    'get leases',
    'create leases',
    'update leases',
  ]) {
    expect(kinds, expected).toContain(expected);
  }
  const denied = resourceRequests.filter(
    (m) => !allowed(manifests, 'myaas-controller', m.attributes as Attributes),
  );
  expect(denied.map((m) => m.request)).toEqual([]);
  // And the check can say no: what the controller must not do is refused.
  expect(
    allowed(manifests, 'myaas-controller', {
      verb: 'delete',
      group: '',
      resource: 'secrets',
      name: 'x',
      namespace: 'default',
    }),
  ).toBe(false);
  expect(
    allowed(manifests, 'myaas-controller', {
      verb: 'list',
      group: 'myaas.dev',
      resource: 'databases',
      namespace: 'other',
    }),
  ).toBe(false);
  expect(
    allowed(manifests, 'myaas-controller', {
      verb: 'update',
      group: 'coordination.k8s.io',
      resource: 'leases',
      name: 'someone-else',
      namespace: 'default',
    }),
  ).toBe(false);
});
