import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  TEMPLATE_VERSIONS_ANNOTATION,
  templateNodeLabel,
} from '../../../controller/cluster/template-labels.js';
import { silentLogger } from '../../../controller/log.js';
import {
  type RunningKubernetesController,
  startKubernetesController,
} from '../../../controller/run-kubernetes.js';
import { FakeEngine } from '../../support/fakes.js';
import { type KubeApiServer, type Obj, kubeConfigFor } from '../../support/kube-apiserver/index.js';
import {
  closeControllerFixture,
  createDatabase,
  createTemplate,
  kubernetesConfig,
  openControllerFixture,
  until,
} from '../../support/kube-resources.js';

// `--database-pods` decisions against the in-process API server, with a fake engine (no server: the
// test plays the kubelet by setting the Pod's status). The e2e test runs the same with real servers.

let server: KubeApiServer;
let dir: string;
let running: RunningKubernetesController | undefined;
const engine = new FakeEngine();

beforeEach(async () => {
  ({ server, dir } = await openControllerFixture('database-pods-'));
  for (const name of ['n1', 'n2'])
    server.store.create(server.resource('', 'nodes'), undefined, {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, labels: { 'kubernetes.io/hostname': name } },
    });
});
afterEach(async () => {
  await closeControllerFixture({ server, dir }, running);
  running = undefined;
});

const nodes = () => server.resource('', 'nodes');
const pods = () => server.resource('', 'pods');
const find = (resource: ReturnType<typeof pods>, name: string, namespace: string | undefined = 'default') =>
  // biome-ignore lint/suspicious/noExplicitAny: wire objects, read field by field
  server.store.find(resource, namespace, name) as (Obj & Record<string, any>) | undefined;
const statusOf = () => find(server.resource('myaas.dev', 'databases'), 'alice')?.status;

/** What an agent does once it holds a version: label and annotate its Node. */
function holds(node: string, key: string, createdAt: number): void {
  const current = find(nodes(), node, undefined)!;
  server.store.update(nodes(), undefined, node, {
    ...current,
    metadata: {
      ...current.metadata,
      labels: { ...current.metadata.labels, [templateNodeLabel('shop')]: key },
      annotations: {
        [TEMPLATE_VERSIONS_ANNOTATION]: JSON.stringify({ shop: { key, version: 'v-local', createdAt } }),
      },
    },
  });
}

/** What the kubelet does once the server runs: the Pod Ready at an IP. */
function podReady(name: string): void {
  const pod = find(pods(), name)!;
  server.store.update(
    pods(),
    'default',
    name,
    {
      ...pod,
      status: {
        ...pod.status,
        phase: 'Running',
        podIP: '127.0.0.1',
        conditions: [{ type: 'Ready', status: 'True' }],
      },
    },
    'status',
  );
}

it('makes no Pod before a node holds the version; then one on that node, pinned there once bound, Ready with its accounts set', async () => {
  createTemplate(server, 'shop');
  createDatabase(server, 'alice');
  running = await startKubernetesController(
    kubernetesConfig(dir, { databasePods: true, resyncSeconds: 1 }),
    silentLogger,
    { kubeConfig: kubeConfigFor(server), clusterKey: 'k'.repeat(40), engineFor: () => engine },
  );
  await until(() => /no node holds a ready version of template shop/.test(statusOf()?.message ?? ''));
  expect(find(pods(), 'myaas-alice')).toBeUndefined();

  // n1 holds the newest version; n2 (still) an older one, which is no candidate for a new database.
  holds('n1', 'cnew', 2);
  holds('n2', 'cold', 1);
  await until(() => find(pods(), 'myaas-alice')?.spec?.nodeName !== undefined);
  const pod = find(pods(), 'myaas-alice')!;
  // The newest version any node holds; the scheduler could only pick the node holding it.
  expect(pod.metadata.labels?.['myaas.dev/template-version']).toBe('cnew');
  expect(pod.spec.nodeName).toBe('n1');
  expect(find(server.resource('', 'services'), 'alice')).toBeDefined();
  podReady('myaas-alice');
  await until(() => statusOf()?.phase === 'Ready');
  expect(statusOf()?.connection).toMatchObject({ host: 'alice.default.svc', port: 3306 });
  expect(engine.admin.configured).toHaveLength(1);

  // The Pod goes (evicted, node drained): the new one may only go where the clone is.
  server.store.delete(pods(), 'default', 'myaas-alice');
  await until(() => {
    const again = find(pods(), 'myaas-alice');
    return again !== undefined && again.metadata.uid !== pod.metadata.uid;
  });
  const terms = find(pods(), 'myaas-alice')!.spec.affinity.nodeAffinity
    .requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions;
  expect(terms).toContainEqual({ key: 'kubernetes.io/hostname', operator: 'In', values: ['n1'] });
  expect(terms).toContainEqual({ key: templateNodeLabel('shop'), operator: 'In', values: ['cnew'] });
});

it('a Database with spec.state Stopped has no Pod; its record is kept', async () => {
  createTemplate(server, 'shop');
  holds('n1', 'cnew', 2);
  createDatabase(server, 'alice', { template: 'shop', state: 'Stopped' });
  running = await startKubernetesController(
    kubernetesConfig(dir, { databasePods: true, resyncSeconds: 1 }),
    silentLogger,
    { kubeConfig: kubeConfigFor(server), clusterKey: 'k'.repeat(40), engineFor: () => engine },
  );
  await until(() => statusOf()?.phase === 'Stopped');
  expect(find(pods(), 'myaas-alice')).toBeUndefined();
});

it('refuses to start without a cluster key, naming the flag', async () => {
  await expect(
    startKubernetesController(kubernetesConfig(dir, { databasePods: true }), silentLogger, {
      kubeConfig: kubeConfigFor(server),
    }),
  ).rejects.toThrow(/--database-pods needs --cluster-key-file/);
});
