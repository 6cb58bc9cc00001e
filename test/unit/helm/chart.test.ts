import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NAMESPACED, validateManifest } from '../../support/helm-subset/kube-schemas.js';
import { renderChart } from '../../support/helm-subset/render.js';

const CHART = path.resolve('deploy/helm/myaas');
const RELEASE = { name: 'myaas', namespace: 'myaas-system' };

type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, never>;
} & Record<string, unknown>;

const render = (values: Record<string, unknown> = {}) => {
  const rendered = renderChart(CHART, RELEASE, values);
  return { crds: rendered.crds as Manifest[], manifests: rendered.manifests as Manifest[] };
};
const one = (manifests: Manifest[], kind: string, name: string) => {
  const found = manifests.filter((m) => m.kind === kind && m.metadata.name === name);
  expect(found, `${kind} ${name}`).toHaveLength(1);
  return found[0] as Manifest & { spec: Any };
};
/** A rendered manifest read in assertions: parsed YAML, untyped (JSON.parse's type). */
type Any = ReturnType<typeof JSON.parse>;
const podSpec = (workload: Manifest): Any => (workload.spec as Any).template.spec;

/** The value sets the chart is checked under: the defaults, everything on, one other namespace. */
const VALUE_SETS: Record<string, Record<string, unknown>> = {
  defaults: {},
  'everything on, all namespaces': {
    watchNamespace: 'all',
    controller: { replicas: 3 },
    nodeAgent: { enabled: true, nodeSelector: { 'myaas.dev/pool': 'btrfs' } },
    apiService: { enabled: true },
  },
  'namespace dev, two replicas, agent': {
    watchNamespace: 'dev',
    controller: { replicas: 2 },
    nodeAgent: { enabled: true },
  },
};

describe('the Helm chart (rendered by the subset renderer in test/support/helm-subset, not by helm)', () => {
  for (const [label, values] of Object.entries(VALUE_SETS)) {
    it(`validates every rendered manifest against Kubernetes' schemas: ${label}`, () => {
      const { crds, manifests } = render(values);
      expect(manifests.length).toBeGreaterThan(0);
      for (const manifest of [...crds, ...manifests]) {
        expect(() => validateManifest(manifest), `${manifest.kind} ${manifest.metadata?.name}`).not.toThrow();
        // Namespaced kinds name their namespace; cluster-scoped ones must not.
        expect(manifest.metadata.namespace !== undefined, `${manifest.kind} ${manifest.metadata.name}`).toBe(
          NAMESPACED.has(manifest.kind),
        );
      }
      const keys = manifests.map((m) => `${m.kind}/${m.metadata.namespace ?? ''}/${m.metadata.name}`);
      expect(new Set(keys).size).toBe(keys.length);
    });

    it(`binds only roles and service accounts it renders: ${label}`, () => {
      const { manifests } = render(values);
      for (const binding of manifests.filter((m) => m.kind.endsWith('Binding'))) {
        const b = binding as Any;
        const role = one(manifests, b.roleRef.kind, b.roleRef.name);
        if (b.kind === 'RoleBinding') expect(role.metadata.namespace).toBe(b.metadata.namespace);
        for (const subject of b.subjects) {
          expect(subject.kind).toBe('ServiceAccount');
          expect(one(manifests, 'ServiceAccount', subject.name).metadata.namespace).toBe(subject.namespace);
        }
      }
      for (const workload of manifests.filter((m) => m.kind === 'Deployment' || m.kind === 'DaemonSet')) {
        one(manifests, 'ServiceAccount', podSpec(workload).serviceAccountName);
      }
    });
  }

  it('the schemas catch a broken manifest (the check above can fail)', () => {
    const deployment = structuredClone(one(render().manifests, 'Deployment', 'myaas-controller')) as Any;
    deployment.spec.replicas = 'two';
    expect(() => validateManifest(deployment)).toThrow(/replicas must be integer/);
    const role = structuredClone(one(render().manifests, 'Role', 'myaas-controller')) as Any;
    role.rules[0].verbs = undefined;
    expect(() => validateManifest(role)).toThrow(/verbs/);
    // An unknown field at any depth (a misspelt key would be silently dropped otherwise).
    const typo = structuredClone(one(render().manifests, 'Deployment', 'myaas-controller')) as Any;
    typo.spec.template.spec.containers[0].securityContext.allowPrivilegeEscalaton = false;
    expect(() => validateManifest(typo)).toThrow(/unknown field.*allowPrivilegeEscalaton/);
    const labelsAreFree = structuredClone(one(render().manifests, 'Deployment', 'myaas-controller')) as Any;
    labelsAreFree.metadata.labels['any.key/at-all'] = 'x';
    expect(() => validateManifest(labelsAreFree)).not.toThrow();
    expect(() => validateManifest({ apiVersion: 'v1', kind: 'Frobnicator', metadata: {} })).toThrow(
      /no schema/,
    );
  });

  it("ships the CRDs unchanged: the chart's crds/ are the same files as crds-examples/", () => {
    const chartCrds = readdirSync(path.join(CHART, 'crds')).sort();
    const examples = readdirSync('crds-examples')
      .filter((f) => f.endsWith('.crd.yaml'))
      .sort();
    expect(chartCrds).toEqual(examples);
    for (const file of chartCrds) {
      // helm installs crds/ as they are, untemplated: they must hold no template syntax.
      const text = readFileSync(path.join(CHART, 'crds', file), 'utf8');
      expect(text).not.toContain('{{');
      expect(text, `deploy/helm/myaas/crds/${file} differs from crds-examples/${file}`).toBe(
        readFileSync(path.join('crds-examples', file), 'utf8'),
      );
    }
    expect(
      render()
        .crds.map((c) => c.metadata.name)
        .sort(),
    ).toEqual(['databases.myaas.dev', 'templates.myaas.dev']);
  });

  it('runs the controller with --leader-elect, and grants the Lease, exactly when replicas > 1', () => {
    for (const replicas of [1, 2, 5]) {
      const { manifests } = render({ controller: { replicas } });
      const deployment = one(manifests, 'Deployment', 'myaas-controller');
      expect(deployment.spec.replicas).toBe(replicas);
      const args: string[] = podSpec(deployment).containers[0].args;
      expect(args.includes('--leader-elect'), `replicas ${replicas}`).toBe(replicas > 1);
      expect(args).toContain('--source=kubernetes');
      const leaseRoles = manifests.filter((m) => m.metadata.name === 'myaas-controller-leader-election');
      expect(leaseRoles.map((m) => m.kind).sort()).toEqual(replicas > 1 ? ['Role', 'RoleBinding'] : []);
    }
  });

  it('reads the namespace(s) it is given: the release namespace, one other, or all', () => {
    const argsOf = (values: Record<string, unknown>) =>
      podSpec(one(render(values).manifests, 'Deployment', 'myaas-controller')).containers[0].args as string[];
    expect(argsOf({})).toContain('--namespace=myaas-system');
    expect(argsOf({ watchNamespace: 'dev' })).toContain('--namespace=dev');
    expect(argsOf({ watchNamespace: 'all' })).toContain('--namespace=all');
    expect(
      one(render({ watchNamespace: 'dev' }).manifests, 'Role', 'myaas-controller').metadata.namespace,
    ).toBe('dev');
    expect(
      render({ watchNamespace: 'all' }).manifests.some(
        (m) => m.kind === 'Role' && m.metadata.name === 'myaas-controller',
      ),
    ).toBe(false);
    one(render({ watchNamespace: 'all' }).manifests, 'ClusterRole', 'myaas-controller');
  });

  it('passes the server images to the controller', () => {
    const env = podSpec(
      one(
        render({ images: { mariadb: 'registry.local/mariadb:11', postgres: 'registry.local/pg:16' } })
          .manifests,
        'Deployment',
        'myaas-controller',
      ),
    ).containers[0].env as { name: string; value?: string }[];
    expect(env.find((e) => e.name === 'MYAAS_IMAGE')?.value).toBe('registry.local/mariadb:11');
    expect(env.find((e) => e.name === 'MYAAS_POSTGRES_IMAGE')?.value).toBe('registry.local/pg:16');
    expect(env.find((e) => e.name === 'POD_NAMESPACE')).toBeDefined();
  });

  it('runs the node agent privileged on the pool path and nodes the values name, and only when enabled', () => {
    const off = render({ nodeAgent: { enabled: false } }).manifests;
    expect(off.some((m) => m.kind === 'DaemonSet' || m.metadata.name.includes('node-agent'))).toBe(false);
    expect(podSpec(one(off, 'Deployment', 'myaas-controller')).containers[0].args).not.toContain(
      '--database-pods',
    );
    const { manifests } = render({
      pool: { path: '/mnt/pool' },
      dumps: { path: '/mnt/dumps' },
      clusterKey: { secretName: 'team-key' },
      nodeAgent: { enabled: true, nodeSelector: { 'myaas.dev/pool': 'btrfs', 'kubernetes.io/os': 'linux' } },
    });
    const spec = podSpec(one(manifests, 'DaemonSet', 'myaas-node-agent'));
    expect(spec.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux', 'myaas.dev/pool': 'btrfs' });
    expect(spec.volumes).toEqual([
      { name: 'pool', hostPath: { path: '/mnt/pool', type: 'Directory' } },
      { name: 'dumps', hostPath: { path: '/mnt/dumps', type: 'Directory' } },
      { name: 'cluster-key', secret: { secretName: 'team-key' } },
      { name: 'docker', hostPath: { path: '/var/run/docker.sock', type: 'Socket' } },
    ]);
    const [agent] = spec.containers;
    expect(agent.securityContext.privileged).toBe(true);
    expect(agent.volumeMounts).toMatchObject([
      { name: 'pool', mountPath: '/mnt/pool' },
      { name: 'dumps', mountPath: '/mnt/dumps', readOnly: true },
      { name: 'cluster-key', mountPath: '/etc/myaas/cluster-key', readOnly: true },
      { name: 'docker', mountPath: '/var/run/docker.sock' },
    ]);
    expect(agent.args).toEqual(
      expect.arrayContaining([
        'agent',
        '--data=/mnt/pool',
        '--dumps=/mnt/dumps',
        '--runtime=docker',
        '--cluster-key-file=/etc/myaas/cluster-key/cluster-key',
      ]),
    );
    expect(agent.env.find((e: { name: string }) => e.name === 'NODE_NAME').valueFrom.fieldRef.fieldPath).toBe(
      'spec.nodeName',
    );
    // The controller never touches a node's disk: no hostPath, not privileged; it runs databases as Pods
    // on the same pool path and reads the same key.
    const controller = podSpec(one(manifests, 'Deployment', 'myaas-controller'));
    expect(JSON.stringify(controller)).not.toContain('hostPath');
    expect(controller.containers[0].securityContext.privileged).toBeUndefined();
    expect(controller.containers[0].securityContext.allowPrivilegeEscalation).toBe(false);
    expect(controller.containers[0].args).toEqual(
      expect.arrayContaining([
        '--database-pods',
        '--pool-path=/mnt/pool',
        '--cluster-key-file=/etc/myaas/cluster-key/cluster-key',
      ]),
    );
    // The process runtime needs no docker socket.
    const process = podSpec(
      one(
        render({ nodeAgent: { enabled: true, runtime: 'process' } }).manifests,
        'DaemonSet',
        'myaas-node-agent',
      ),
    );
    expect(JSON.stringify(process)).not.toContain('docker.sock');
    // An empty selector is every node.
    const all = podSpec(
      one(render({ nodeAgent: { enabled: true } }).manifests, 'DaemonSet', 'myaas-node-agent'),
    );
    expect(all.nodeSelector).toEqual({});
  });

  it('renders the API Service only when enabled, in front of the controller', () => {
    expect(render().manifests.some((m) => m.kind === 'Service')).toBe(false);
    const { manifests } = render({ apiService: { enabled: true, port: 8080 } });
    const service = one(manifests, 'Service', 'myaas-api');
    const deployment = one(manifests, 'Deployment', 'myaas-controller');
    expect(service.spec.selector).toEqual(deployment.spec.template.metadata.labels);
    expect(service.spec.ports).toEqual([{ name: 'http', port: 8080, targetPort: 8080 }]);
  });
});
