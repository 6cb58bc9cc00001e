import { type Resource, apiVersionOf } from './resources.js';

/**
 * Discovery documents (/api, /apis, /api/v1, /apis/GROUP/VERSION, /version) in their legacy,
 * unaggregated form: clients that ask for the aggregated one (kubectl) fall back to these when the
 * answer is plain application/json.
 */

const VERBS = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];

export function apiVersions(serverAddress: string) {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function groupVersions(resources: Resource[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const r of resources) {
    if (!r.group) continue;
    const versions = groups.get(r.group) ?? [];
    if (!versions.includes(r.version)) versions.push(r.version);
    groups.set(r.group, versions);
  }
  return groups;
}

function group(name: string, versions: string[]) {
  const entries = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { name, versions: entries, preferredVersion: entries[0] };
}

export function apiGroupList(resources: Resource[]) {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [...groupVersions(resources)].map(([name, versions]) => group(name, versions)),
  };
}

export function apiGroup(resources: Resource[], name: string) {
  const versions = groupVersions(resources).get(name);
  return versions ? { kind: 'APIGroup', apiVersion: 'v1', ...group(name, versions) } : undefined;
}

export function apiResourceList(resources: Resource[], groupName: string, version: string) {
  const served = resources.filter((r) => r.group === groupName && r.version === version);
  if (served.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: apiVersionOf({ group: groupName, version }),
    resources: served.flatMap((r) => [
      {
        name: r.resource,
        singularName: r.singular,
        namespaced: r.namespaced,
        kind: r.kind,
        verbs: VERBS,
        ...(r.shortNames.length > 0 ? { shortNames: r.shortNames } : {}),
      },
      ...(r.statusSubresource
        ? [
            {
              name: `${r.resource}/status`,
              singularName: '',
              namespaced: r.namespaced,
              kind: r.kind,
              verbs: ['get', 'patch', 'update'],
            },
          ]
        : []),
      ...(r.kind === 'Pod'
        ? [{ name: 'pods/binding', singularName: '', namespaced: true, kind: 'Binding', verbs: ['create'] }]
        : []),
    ]),
  };
}

export const VERSION_INFO = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0-myaas-test',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2026-01-01T00:00:00Z',
  goVersion: 'go1.23',
  compiler: 'gc',
  platform: 'linux/amd64',
};
