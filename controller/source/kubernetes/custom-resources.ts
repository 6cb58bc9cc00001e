import { API_VERSION, type Kind } from '../../objects/index.js';

/** Where the Template and Database custom resources live on the API server (crds-examples/). */

export const [GROUP, VERSION] = API_VERSION.split('/') as [string, string];
export const PLURALS: Record<Kind, string> = { Template: 'templates', Database: 'databases' };

/** `all` (or none): every namespace; otherwise one. */
export type NamespaceScope = { readonly all: true } | { readonly all: false; readonly namespace: string };

export function scopeOf(namespace: string | undefined): NamespaceScope {
  return !namespace || namespace === 'all' ? { all: true } : { all: false, namespace };
}

/** The list/watch path of a kind's collection in a scope. */
export function collectionPath(kind: Kind, scope: NamespaceScope): string {
  const namespace = scope.all ? '' : `/namespaces/${encodeURIComponent(scope.namespace)}`;
  return `/apis/${GROUP}/${VERSION}${namespace}/${PLURALS[kind]}`;
}

/** How an object is named in problems and `declared in`: its API path, short. */
export const sourceOf = (kind: Kind, namespace: string, name: string) =>
  `namespaces/${namespace}/${PLURALS[kind]}/${name}`;

export interface CustomResource {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
    creationTimestamp?: string | Date;
    deletionTimestamp?: string | Date;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: unknown;
  status?: unknown;
}

/**
 * The part of a custom resource a spec file would hold (apiVersion, kind, name, namespace, labels,
 * annotations, spec): what the spec parser validates. Server-set metadata and status are not the
 * user's to declare.
 */
export function specDocumentOf(resource: CustomResource): Record<string, unknown> {
  const meta = resource.metadata ?? {};
  return {
    apiVersion: resource.apiVersion,
    kind: resource.kind,
    metadata: {
      name: meta.name,
      ...(meta.namespace ? { namespace: meta.namespace } : {}),
      ...(meta.labels ? { labels: meta.labels } : {}),
      ...(meta.annotations ? { annotations: meta.annotations } : {}),
    },
    spec: resource.spec,
  };
}
