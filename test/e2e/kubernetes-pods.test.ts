import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloneFinalizer } from '../../controller/cluster/clone-preparer.js';
import { type RunningNodeAgent, startNodeAgent } from '../../controller/cluster/node-agent.js';
import { engineFor } from '../../controller/engine/engines.js';
import { silentLogger } from '../../controller/log.js';
import {
  type RunningKubernetesController,
  startKubernetesController,
} from '../../controller/run-kubernetes.js';
import { shopDump } from '../support/dumps.js';
import { renderChart } from '../support/helm-subset/render.js';
import { type KubeApiServer, type Obj, kubeConfigFor } from '../support/kube-apiserver/index.js';
import { kubernetesConfig, startExampleServer } from '../support/kube-resources.js';
import { type Attributes, type RbacObject, allowed, attributesOf } from '../support/rbac-check.js';
import { StandInKubelet } from '../support/stand-in-kubelet.js';
import { waitFor } from '../support/wait.js';

/**
 * Kubernetes placement end to end (issue 18), against the in-process API server: the real controller
 * (--database-pods) and three real node agents (process runtime + copy storage, the host's MariaDB),
 * kube-scheduler's stand-in binding Pods by node affinity, and a stand-in kubelet per node that runs
 * each bound Pod's server on the node's own folder. Real imports, real clones, real servers, real logins.
 */

const CLUSTER_KEY = 'test-cluster-key-0123456789abcdef0123456789';
const NODES = ['n1', 'n2', 'n3'];
/** n1 and n2 carry the label the template selects; n3 does not (its agent imports nothing). */
const SELECTED = new Set(['n1', 'n2']);

describe('Kubernetes placement: database Pods on the nodes whose agent holds the version', () => {
  let dir: string;
  let server: KubeApiServer;
  let controller: RunningKubernetesController | undefined;
  const agents = new Map<string, RunningNodeAgent>();
  const kubelets: StandInKubelet[] = [];
  const hostRoot = (node: string) => path.join(dir, 'nodes', node);
  const pool = (node: string) => path.join(hostRoot(node), 'var/lib/myaas');
  const res = (group: string, plural: string) => server.resource(group, plural);
  const get = (group: string, plural: string, name: string, namespace: string | undefined = 'default') => {
    try {
      // biome-ignore lint/suspicious/noExplicitAny: wire objects, read field by field and asserted on
      return server.store.get(res(group, plural), namespace, name) as Obj & Record<string, any>;
    } catch {
      return undefined;
    }
  };
  const until = (what: string, test: () => boolean | Promise<boolean>, ms = 120_000) =>
    waitFor(what, test, ms, 100).catch((error: Error) => {
      throw new Error(
        `${error.message}; Database alice: ${JSON.stringify(get('myaas.dev', 'databases', 'alice')?.status)}; pod: ${JSON.stringify(get('', 'pods', 'myaas-alice')?.status)}`,
      );
    });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'myaas-kube-pods-'));
    // The servers run as the mysql user (the process runtime, as root): the folders must be reachable.
    await chmod(dir, 0o755);
    await mkdir(path.join(dir, 'dumps'), { recursive: true });
    await writeFile(path.join(dir, 'dumps', 'shop.sql'), shopDump(25, 'k8s'));
    server = await startExampleServer();
    for (const node of NODES) {
      server.store.create(res('', 'nodes'), undefined, {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name: node,
          labels: { 'kubernetes.io/hostname': node, ...(SELECTED.has(node) ? { pool: 'fast' } : {}) },
        },
      });
      await mkdir(pool(node), { recursive: true });
      for (let d = pool(node); d.startsWith(dir) && d !== dir; d = path.dirname(d)) await chmod(d, 0o755);
    }
    server.store.create(res('myaas.dev', 'templates'), 'default', {
      apiVersion: 'myaas.dev/v1alpha1',
      kind: 'Template',
      metadata: { name: 'shop' },
      spec: { engine: 'mariadb', source: { path: 'shop.sql' }, nodeSelector: { pool: 'fast' } },
    });
    for (const node of NODES) {
      const config = kubernetesConfig(path.join(dir, 'agents', node), {
        runtime: 'process',
        storage: 'copy',
        dataDir: pool(node),
        dumpsDir: path.join(dir, 'dumps'),
        resyncSeconds: 2,
        importMemoryMiB: 256,
      });
      agents.set(
        node,
        await startNodeAgent(config, node, silentLogger, {
          kubeConfig: kubeConfigFor(server, 'default', `agent-${node}`),
          clusterKey: CLUSTER_KEY,
        }),
      );
      kubelets.push(
        new StandInKubelet({
          server,
          node,
          hostRoot: hostRoot(node),
          runDir: path.join(dir, 'kubelet', node),
          engineFor,
          log: silentLogger,
        }),
      );
    }
    controller = await startKubernetesController(
      kubernetesConfig(path.join(dir, 'controller'), {
        databasePods: true,
        poolPath: '/var/lib/myaas',
        resyncSeconds: 2,
        readyTimeoutSeconds: 120,
      }),
      silentLogger,
      { kubeConfig: kubeConfigFor(server, 'default', 'controller'), clusterKey: CLUSTER_KEY },
    );
  }, 600_000);

  afterAll(async () => {
    await controller?.stop();
    for (const agent of agents.values()) await agent.stop();
    for (const kubelet of kubelets) await kubelet.close();
    // Servers an agent started for imports stop with its controller; any database server left is a bug.
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  }, 300_000);

  const nodeLabel = (node: string) =>
    get('', 'nodes', node, undefined)?.metadata.labels?.['templates.myaas.dev/shop'];

  it('the agents of the selected nodes import the template and label their Node with the same content key; the other imports nothing', async () => {
    await until('n1 and n2 labelled', () => Boolean(nodeLabel('n1') && nodeLabel('n2')), 300_000);
    expect(nodeLabel('n1')).toBe(nodeLabel('n2'));
    expect(nodeLabel('n1')).toMatch(/^c[0-9a-f]{24}$/);
    expect(nodeLabel('n3')).toBeUndefined();
    expect(await readdir(path.join(pool('n3'), 'templates')).catch(() => [])).toEqual([]);
    await until(
      'template status Ready',
      () => get('myaas.dev', 'templates', 'shop')?.status?.phase === 'Ready',
    );
  }, 320_000);

  it('a Database becomes a Pod placed only on a node holding the version, Ready, with its Secret; one clone in all pools', async () => {
    server.store.create(res('myaas.dev', 'databases'), 'default', {
      apiVersion: 'myaas.dev/v1alpha1',
      kind: 'Database',
      metadata: { name: 'alice' },
      spec: { template: 'shop' },
    });
    await until('alice Ready', () => get('myaas.dev', 'databases', 'alice')?.status?.phase === 'Ready');
    const db = get('myaas.dev', 'databases', 'alice')!;
    const pod = get('', 'pods', 'myaas-alice')!;
    const node = pod.spec.nodeName as string;
    expect(SELECTED.has(node)).toBe(true);
    expect(pod.metadata.labels?.['myaas.dev/template-version']).toBe(nodeLabel(node));
    expect(db.status.connection).toMatchObject({
      host: 'alice.default.svc',
      port: 3306,
      database: 'default',
    });
    expect(get('', 'services', 'alice')).toBeDefined();
    // Exactly one clone, on the node the Pod is bound to, marked for this Database; its finalizer says where.
    for (const n of NODES) {
      const clones = await readdir(path.join(pool(n), 'clones')).catch(() => []);
      expect(clones).toEqual(n === node ? ['alice'] : []);
    }
    expect((await readFile(path.join(pool(node), 'clones/alice/.myaas-clone-ready'), 'utf8')).trim()).toBe(
      db.metadata.uid,
    );
    expect(db.metadata.finalizers).toEqual([cloneFinalizer(node)]);
    // The Secret's credentials log in (at the Pod's address: what the Service routes to) and see the dump.
    await until('Secret', () => get('', 'secrets', 'alice-credentials') !== undefined);
    const data = get('', 'secrets', 'alice-credentials')!.data as Record<string, string>;
    const text = (k: string) => Buffer.from(data[k]!, 'base64').toString();
    expect(text('host')).toBe('alice.default.svc');
    const c = await mysql.createConnection({
      host: pod.status.podIP,
      port: Number(text('port')),
      user: text('username'),
      password: text('password'),
      database: text('database'),
    });
    try {
      const [rows] = await c.query('SELECT COUNT(*) AS n FROM products');
      expect((rows as { n: number }[])[0]!.n).toBe(25);
      await c.query("INSERT INTO products VALUES (100, 'kept', 1)");
    } finally {
      await c.end();
    }
    // The template's admin password no longer logs in: the database has its own.
    await expect(
      mysql.createConnection({ host: pod.status.podIP, port: 3306, user: 'root', password: 'wrong' }),
    ).rejects.toThrow(/Access denied/);
  }, 180_000);

  it('a watch broken with 410 and the API server unavailable for a minute remove nothing', async () => {
    const before = get('', 'pods', 'myaas-alice')!;
    const node = before.spec.nodeName as string;
    server.expireWatches();
    await server.setAvailability('503');
    await new Promise((r) => setTimeout(r, 60_000));
    await server.setAvailability('up');
    await new Promise((r) => setTimeout(r, 5_000));
    const after = get('', 'pods', 'myaas-alice')!;
    expect(after.metadata.uid).toBe(before.metadata.uid);
    expect(after.metadata.deletionTimestamp).toBeUndefined();
    expect(await readdir(path.join(pool(node), 'clones'))).toEqual(['alice']);
    expect(get('myaas.dev', 'databases', 'alice')?.status?.phase).toBe('Ready');
  }, 120_000);

  it('deleting the resource removes Pod, Service, Secret, and moves the clone into its node’s trash', async () => {
    const node = get('', 'pods', 'myaas-alice')!.spec.nodeName as string;
    const uid = get('myaas.dev', 'databases', 'alice')!.metadata.uid;
    server.store.delete(res('myaas.dev', 'databases'), 'default', 'alice');
    await until(
      'the resource is gone (finalizer removed once the clone is trashed)',
      () => !get('myaas.dev', 'databases', 'alice'),
    );
    await until(
      'Pod, Service and Secret gone',
      () =>
        !get('', 'pods', 'myaas-alice') &&
        !get('', 'services', 'alice') &&
        !get('', 'secrets', 'alice-credentials'),
    );
    expect(await readdir(path.join(pool(node), 'clones'))).toEqual([]);
    const trashed = await readdir(path.join(pool(node), 'trash', 'databases'));
    const entry = trashed.find((e) => e.startsWith('alice@') && !e.endsWith('.json'))!;
    expect(entry).toBeDefined();
    // The data is in the trash as it was, the row written through the Pod included.
    expect(
      (
        await readFile(path.join(pool(node), 'trash/databases', entry, 'data/.myaas-clone-ready'), 'utf8')
      ).trim(),
    ).toBe(uid);
    expect(kubelets.reduce((n, k) => n + k.running, 0)).toBe(0);
  }, 180_000);

  it("every request the controller and the agents made is allowed by the chart's RBAC for their ServiceAccounts", () => {
    const manifests = renderChart(
      path.resolve('deploy/helm/myaas'),
      { name: 'myaas', namespace: 'default' },
      {},
    ).manifests as unknown as RbacObject[];
    const check = (tokens: string[], serviceAccount: string, exercised: string[]) => {
      const requests = [...new Set(tokens.flatMap((t) => server.requestsByToken.get(t) ?? []))];
      const resource = requests
        .map((request) => ({ request, attributes: attributesOf(request) }))
        .filter((r) => r.attributes);
      const kinds = new Set(resource.map((r) => `${r.attributes!.verb} ${r.attributes!.resource}`));
      for (const kind of exercised) expect(kinds, `${serviceAccount}: ${kind}`).toContain(kind);
      const denied = resource.filter((r) => !allowed(manifests, serviceAccount, r.attributes as Attributes));
      expect(
        denied.map((r) => r.request),
        serviceAccount,
      ).toEqual([]);
    };
    check(['controller'], 'myaas-controller', [
      'list nodes',
      'watch nodes',
      'list pods',
      'watch pods',
      'create pods',
      'delete pods',
      'create services',
      'delete services',
      'patch databases/status',
      'create secrets',
    ]);
    check(
      NODES.map((n) => `agent-${n}`),
      'myaas-node-agent',
      [
        'list nodes',
        'watch nodes',
        'patch nodes',
        'list pods',
        'watch pods',
        'list templates',
        'patch databases',
      ],
    );
  });
});
