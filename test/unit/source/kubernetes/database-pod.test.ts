import { CoreV1Api } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { engineFor } from '../../../../controller/engine/engines.js';
import {
  databasePod,
  databaseService,
  serviceNameOf,
  templateNodeLabel,
} from '../../../../controller/source/kubernetes/database-pod.js';
import type { ResourceLocation } from '../../../../controller/source/kubernetes/kubernetes-desired-state.js';
import { type KubeApiServer, kubeConfigFor } from '../../../support/kube-apiserver/index.js';
import { createDatabase, startExampleServer, until } from '../../../support/kube-resources.js';

// The Pod and Service of a database, created through the real client in the in-process server: the
// stand-in scheduler (node affinity as kube-scheduler applies it) places the Pod only on a node whose
// agent holds the template version; both go with their Database. No kubelet here: nothing runs.

let server: KubeApiServer;
let core: CoreV1Api;
let location: ResourceLocation;

const nodes = () => server.resource('', 'nodes');
const pods = () => server.resource('', 'pods');

beforeEach(async () => {
  server = await startExampleServer();
  core = kubeConfigFor(server).makeApiClient(CoreV1Api);
  const db = createDatabase(server, 'alice');
  location = { kind: 'Database', namespace: 'default', name: 'alice', uid: db.metadata.uid! };
  for (const [name, version] of [
    ['node-old', 'v1'],
    ['node-new', 'v2'],
    ['node-empty', undefined],
  ] as const)
    server.store.create(nodes(), undefined, {
      metadata: { name, labels: version ? { [templateNodeLabel('shop')]: version } : {} },
    });
});
afterEach(() => server.close());

const pod = (version: string) =>
  databasePod({
    location,
    template: 'shop',
    templateVersion: version,
    image: 'mariadb:11.4',
    serverImage: engineFor('mariadb').image,
    poolDatabasesDir: '/var/lib/myaas/pool/databases',
    memoryMiB: 512,
  });
const nodeOfPod = () =>
  (server.store.find(pods(), 'default', 'myaas-alice')?.spec as { nodeName?: string } | undefined)?.nodeName;

describe('databasePod', () => {
  it('is placed only on the node holding the template version', async () => {
    await core.createNamespacedPod({ namespace: 'default', body: pod('v2') });
    await until(() => nodeOfPod() !== undefined);
    expect(nodeOfPod()).toBe('node-new');
  });

  it('stays Unschedulable while no node holds the version, and is placed once one does', async () => {
    await core.createNamespacedPod({ namespace: 'default', body: pod('v3') });
    await until(() =>
      JSON.stringify(server.store.get(pods(), 'default', 'myaas-alice').status ?? {}).includes(
        'Unschedulable',
      ),
    );
    expect(nodeOfPod()).toBeUndefined();
    const empty = server.store.get(nodes(), undefined, 'node-empty');
    server.store.update(nodes(), undefined, 'node-empty', {
      ...empty,
      metadata: { ...empty.metadata, labels: { [templateNodeLabel('shop')]: 'v3' } },
    });
    await until(() => nodeOfPod() === 'node-empty');
  });

  it('mounts the clone as a subPath of the pool after an init container waits for the clone’s marker', () => {
    const spec = pod('v2').spec!;
    expect(spec.volumes).toEqual([
      { name: 'pool', hostPath: { path: '/var/lib/myaas/pool/databases', type: 'Directory' } },
    ]);
    expect(spec.containers[0]!.volumeMounts).toEqual([
      { name: 'pool', mountPath: '/var/lib/mysql', subPath: 'alice' },
    ]);
    expect(spec.initContainers![0]!.command!.join(' ')).toContain('/pool/$DATABASE/.myaas-clone-ready');
    expect(spec.containers[0]!.resources).toEqual({
      requests: { memory: '512Mi' },
      limits: { memory: '512Mi' },
    });
    expect(spec.securityContext).toMatchObject({ runAsUser: 999, runAsNonRoot: true });
    const postgres = databasePod({
      ...{ location, template: 'shop', templateVersion: 'v2', image: 'postgres:16', poolDatabasesDir: '/p' },
      serverImage: engineFor('postgres').image,
    });
    expect(postgres.spec!.containers[0]!.ports).toEqual([{ name: 'sql', containerPort: 5432 }]);
    expect(postgres.spec!.containers[0]!.volumeMounts![0]!.mountPath).toBe(
      engineFor('postgres').image.dataDir,
    );
  });

  it('Pod and Service go with their Database (garbage collection)', async () => {
    await core.createNamespacedPod({ namespace: 'default', body: pod('v2') });
    await core.createNamespacedService({
      namespace: 'default',
      body: databaseService(location, engineFor('mariadb').image),
    });
    const services = server.resource('', 'services');
    expect(server.store.get(services, 'default', 'alice').spec).toMatchObject({
      selector: { 'myaas.dev/database': 'alice' },
      ports: [{ port: 3306 }],
    });
    server.store.delete(server.resource('myaas.dev', 'databases'), 'default', 'alice');
    await until(
      () =>
        !server.store.find(pods(), 'default', 'myaas-alice') &&
        !server.store.find(services, 'default', 'alice'),
    );
  });

  it('names a Service validly when the database name starts with a digit', () => {
    expect(serviceNameOf('alice')).toBe('alice');
    expect(serviceNameOf('1234-ci')).toBe('db-1234-ci');
    expect(serviceNameOf(`9${'a'.repeat(62)}`)).toHaveLength(63);
  });
});
