/**
 * RBAC evaluated as the API server does, for tests: a request line (`METHOD /path?query`, as the
 * in-process API server records it) turned into RBAC's request attributes (as k8s.io/apiserver's
 * RequestInfoFactory derives them), checked against the Roles and bindings a chart renders.
 */

export interface Attributes {
  verb: string;
  group: string;
  resource: string;
  name?: string;
  namespace?: string;
}

/** RBAC's view of a request, as k8s.io/apiserver's RequestInfoFactory derives it; undefined: not a resource request. */
export function attributesOf(request: string): Attributes | undefined {
  const [method = '', target = ''] = request.split(' ');
  const url = new URL(target, 'http://x');
  const parts = url.pathname.split('/').filter(Boolean);
  let rest: string[];
  let group: string;
  if (parts[0] === 'api' && parts.length > 2) [group, rest] = ['', parts.slice(2)];
  else if (parts[0] === 'apis' && parts.length > 3) [group, rest] = [parts[1] as string, parts.slice(3)];
  else return undefined; // discovery, /openapi, /version: non-resource URLs
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length > 2) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource = '', name, subresource] = rest;
  const watch = ['true', '1'].includes(url.searchParams.get('watch') ?? '');
  const verb =
    (
      {
        POST: 'create',
        PUT: 'update',
        PATCH: 'patch',
        DELETE: name ? 'delete' : 'deletecollection',
      } as Record<string, string>
    )[method] ?? (watch ? 'watch' : name ? 'get' : 'list');
  return {
    verb,
    group,
    resource: subresource ? `${resource}/${subresource}` : resource,
    ...(name ? { name } : {}),
    ...(namespace ? { namespace } : {}),
  };
}

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
}
export interface RbacObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: Rule[];
  roleRef?: { kind: string; name: string };
  subjects?: { name: string }[];
}

/** Whether RBAC allows the ServiceAccount the request, with the rules the chart renders. */
export function allowed(manifests: RbacObject[], serviceAccount: string, a: Attributes): boolean {
  return manifests.some((binding) => {
    if (binding.kind !== 'RoleBinding' && binding.kind !== 'ClusterRoleBinding') return false;
    if (!binding.subjects?.some((s) => s.name === serviceAccount)) return false;
    if (binding.kind === 'RoleBinding' && binding.metadata.namespace !== a.namespace) return false;
    const role = manifests.find(
      (m) => m.kind === binding.roleRef?.kind && m.metadata.name === binding.roleRef?.name,
    );
    return (role?.rules ?? []).some(
      (r) =>
        r.apiGroups?.includes(a.group) &&
        r.resources?.includes(a.resource) &&
        r.verbs.includes(a.verb) &&
        (!r.resourceNames || (a.name !== undefined && r.resourceNames.includes(a.name))),
    );
  });
}
