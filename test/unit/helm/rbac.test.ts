import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderChart } from '../../support/helm-subset/render.js';

/**
 * The RBAC each ServiceAccount of the chart gets, pinned: widening it means changing these lists on
 * purpose. One line per (scope, apiGroup, resource, resourceName, verb); scope is the namespace of a
 * Role, or `cluster` for a ClusterRole. The why of each rule is in the templates' comments.
 */
const RELEASE = { name: 'myaas', namespace: 'myaas-system' };

const CONTROLLER = (scope: string) => [
  `${scope} myaas.dev templates list`,
  `${scope} myaas.dev templates watch`,
  `${scope} myaas.dev databases list`,
  `${scope} myaas.dev databases watch`,
  `${scope} myaas.dev templates/status patch`,
  `${scope} myaas.dev databases/status patch`,
  `${scope} core secrets get`,
  `${scope} core secrets create`,
  `${scope} core secrets update`,
];
/** --database-pods (nodeAgent.enabled): the database Pods and Services, and the Nodes' template labels. */
const DATABASE_PODS = (scope: string) => [
  `${scope} core pods list`,
  `${scope} core pods watch`,
  `${scope} core pods create`,
  `${scope} core pods delete`,
  `${scope} core services list`,
  `${scope} core services watch`,
  `${scope} core services create`,
  `${scope} core services delete`,
  'cluster core nodes list',
  'cluster core nodes watch',
];
const LEADER_ELECTION = [
  'myaas-system coordination.k8s.io leases create',
  'myaas-system coordination.k8s.io leases/myaas-controller get',
  'myaas-system coordination.k8s.io leases/myaas-controller update',
];
const NODE_AGENT = (scope: string) => [
  'cluster core nodes list',
  'cluster core nodes watch',
  'cluster core nodes patch',
  `${scope} myaas.dev templates list`,
  `${scope} myaas.dev templates watch`,
  `${scope} myaas.dev databases list`,
  `${scope} myaas.dev databases watch`,
  `${scope} myaas.dev databases patch`,
  `${scope} core pods list`,
  `${scope} core pods watch`,
];

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
  nonResourceURLs?: string[];
}
interface Obj {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: Rule[];
  roleRef?: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
}

/** Every permission granted to the ServiceAccount, through every binding that names it. */
function grantsOf(manifests: Obj[], serviceAccount: string): string[] {
  const grants: string[] = [];
  for (const binding of manifests.filter(
    (m) => m.kind === 'RoleBinding' || m.kind === 'ClusterRoleBinding',
  )) {
    if (!binding.subjects?.some((s) => s.kind === 'ServiceAccount' && s.name === serviceAccount)) continue;
    const role = manifests.find(
      (m) => m.kind === binding.roleRef?.kind && m.metadata.name === binding.roleRef?.name,
    );
    if (!role) throw new Error(`${binding.metadata.name} binds a role the chart does not render`);
    const scope = binding.kind === 'RoleBinding' ? (binding.metadata.namespace ?? '?') : 'cluster';
    for (const rule of role.rules ?? []) {
      expect(rule.nonResourceURLs, 'non-resource URLs are never granted').toBeUndefined();
      for (const group of rule.apiGroups ?? [])
        for (const resource of rule.resources ?? [])
          for (const name of rule.resourceNames ?? [undefined])
            for (const verb of rule.verbs)
              grants.push(`${scope} ${group || 'core'} ${resource}${name ? `/${name}` : ''} ${verb}`);
    }
  }
  return grants.sort();
}

const manifestsOf = (values: Record<string, unknown>) =>
  renderChart(path.resolve('deploy/helm/myaas'), RELEASE, values).manifests as unknown as Obj[];

const CASES: { label: string; values: Record<string, unknown>; scope: string }[] = [
  { label: 'defaults (release namespace)', values: {}, scope: 'myaas-system' },
  { label: 'one other namespace', values: { watchNamespace: 'dev' }, scope: 'dev' },
  { label: 'all namespaces', values: { watchNamespace: 'all' }, scope: 'cluster' },
];

describe('RBAC of the chart: exactly the pinned grants (rendered by the subset renderer)', () => {
  for (const { label, values, scope } of CASES) {
    for (const replicas of [1, 3]) {
      for (const pods of [true, false])
        it(`controller, ${label}, ${replicas} replica(s), node agents ${pods ? 'on' : 'off'}`, () => {
          const manifests = manifestsOf({
            ...values,
            controller: { replicas },
            nodeAgent: { enabled: pods },
          });
          const expected = [
            ...CONTROLLER(scope),
            ...(pods ? DATABASE_PODS(scope) : []),
            ...(replicas > 1 ? LEADER_ELECTION : []),
          ].sort();
          expect(grantsOf(manifests, 'myaas-controller')).toEqual(expected);
        });
    }
    it(`node agent, ${label}`, () => {
      expect(grantsOf(manifestsOf({ ...values, nodeAgent: { enabled: true } }), 'myaas-node-agent')).toEqual(
        NODE_AGENT(scope).sort(),
      );
      expect(grantsOf(manifestsOf({ ...values, nodeAgent: { enabled: false } }), 'myaas-node-agent')).toEqual(
        [],
      );
    });
  }

  it('grants no wildcard, no escalation verbs, and nothing in a namespace it was not given', () => {
    for (const { values } of CASES) {
      const manifests = manifestsOf({ ...values, controller: { replicas: 2 }, nodeAgent: { enabled: true } });
      const roles = manifests.filter((m) => m.kind === 'Role' || m.kind === 'ClusterRole');
      expect(roles.length).toBeGreaterThan(0);
      for (const role of roles) {
        for (const rule of role.rules ?? []) {
          for (const field of [
            rule.apiGroups,
            rule.resources,
            rule.verbs,
            rule.resourceNames,
            rule.nonResourceURLs,
          ]) {
            expect(field ?? [], `${role.kind} ${role.metadata.name}`).not.toContain('*');
          }
          for (const verb of ['escalate', 'bind', 'impersonate']) expect(rule.verbs).not.toContain(verb);
        }
      }
    }
  });

  it('the comparison can fail: a widened role is noticed', () => {
    const manifests = manifestsOf({});
    const role = manifests.find((m) => m.kind === 'Role' && m.metadata.name === 'myaas-controller');
    role?.rules?.push({ apiGroups: [''], resources: ['secrets'], verbs: ['list'] });
    expect(grantsOf(manifests, 'myaas-controller')).not.toEqual(CONTROLLER('myaas-system').sort());
  });
});
