import type { Resource } from './resources.js';

/**
 * Just enough OpenAPI v3 for kubectl: the index (/openapi/v3) and, per group-version, the PATCH
 * operation of each resource declaring the `fieldValidation` query parameter (how kubectl learns that
 * the server validates fields itself, and then sends fieldValidation=Strict instead of downloading
 * schemas), and each kind's schema under components.
 */

const gvPath = (r: Resource) => (r.group ? `apis/${r.group}/${r.version}` : `api/${r.version}`);

export function openApiIndex(resources: Resource[]) {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const r of resources) paths[gvPath(r)] = { serverRelativeURL: `/openapi/v3/${gvPath(r)}?hash=0` };
  return { paths };
}

export function openApiGroupVersion(resources: Resource[], path: string) {
  const served = resources.filter((r) => gvPath(r) === path);
  if (served.length === 0) return undefined;
  const paths: Record<string, unknown> = {};
  const schemas: Record<string, unknown> = {};
  for (const r of served) {
    const gvk = { group: r.group, version: r.version, kind: r.kind };
    const item = `/${gvPath(r)}/${r.namespaced ? 'namespaces/{namespace}/' : ''}${r.resource}/{name}`;
    paths[item] = {
      patch: {
        operationId: `patch${r.kind}`,
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': gvk,
        parameters: [
          { name: 'dryRun', in: 'query', schema: { type: 'string' } },
          { name: 'fieldManager', in: 'query', schema: { type: 'string' } },
          { name: 'fieldValidation', in: 'query', schema: { type: 'string' } },
          { name: 'force', in: 'query', schema: { type: 'boolean' } },
        ],
        responses: { '200': { description: 'OK' } },
      },
    };
    const name = `${r.group ? r.group.split('.').reverse().join('.') : 'io.k8s.api.core'}.${r.version}.${r.kind}`;
    schemas[name] = {
      ...(r.validator?.schema ?? { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }),
      'x-kubernetes-group-version-kind': [gvk],
    };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.32.0' },
    paths,
    components: { schemas },
  };
}
