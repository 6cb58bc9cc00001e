import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { type CrdValidator, type JsonSchema, crdValidator } from './crd-schema.js';

/** One served resource: where it lives on the wire, what it is called, and how it is admitted. */
export interface Resource {
  readonly group: string;
  readonly version: string;
  /** Plural, as in the path: `databases`. */
  readonly resource: string;
  readonly singular: string;
  readonly kind: string;
  readonly listKind: string;
  readonly namespaced: boolean;
  readonly shortNames: string[];
  /** Has a `/status` subresource: the main resource then ignores status, and /status everything else. */
  readonly statusSubresource: boolean;
  /** Custom resources: validated (and pruned, defaulted) against the CRD's schema. */
  readonly validator?: CrdValidator;
  readonly printerColumns?: { name: string; type: string; jsonPath: string }[];
}

export const apiVersionOf = (r: Pick<Resource, 'group' | 'version'>) =>
  r.group ? `${r.group}/${r.version}` : r.version;

function builtin(
  group: string,
  version: string,
  kind: string,
  resource: string,
  namespaced: boolean,
  statusSubresource: boolean,
  shortNames: string[] = [],
): Resource {
  return {
    group,
    version,
    resource,
    singular: kind.toLowerCase(),
    kind,
    listKind: `${kind}List`,
    namespaced,
    shortNames,
    statusSubresource,
  };
}

/** The built-in kinds the product touches (its objects' Secrets, Pods, Services; nodes; leader Leases). */
export const BUILTIN_RESOURCES: Resource[] = [
  builtin('', 'v1', 'Namespace', 'namespaces', false, true, ['ns']),
  builtin('', 'v1', 'Secret', 'secrets', true, false),
  builtin('', 'v1', 'ConfigMap', 'configmaps', true, false, ['cm']),
  builtin('', 'v1', 'Pod', 'pods', true, true, ['po']),
  builtin('', 'v1', 'Service', 'services', true, true, ['svc']),
  builtin('', 'v1', 'Node', 'nodes', false, true, ['no']),
  builtin('coordination.k8s.io', 'v1', 'Lease', 'leases', true, false),
];

interface CrdDocument {
  kind?: string;
  spec?: {
    group: string;
    scope: 'Namespaced' | 'Cluster';
    names: { kind: string; listKind?: string; plural: string; singular?: string; shortNames?: string[] };
    versions: {
      name: string;
      served?: boolean;
      subresources?: { status?: object };
      schema?: { openAPIV3Schema?: JsonSchema };
      additionalPrinterColumns?: { name: string; type: string; jsonPath: string }[];
    }[];
  };
}

/** The served versions of a CustomResourceDefinition file, each with its schema compiled. */
export function resourcesOfCrd(file: string): Resource[] {
  const crd = parseYaml(readFileSync(file, 'utf8')) as CrdDocument;
  if (crd.kind !== 'CustomResourceDefinition' || !crd.spec)
    throw new Error(`${file}: not a CustomResourceDefinition`);
  const { group, scope, names } = crd.spec;
  return crd.spec.versions
    .filter((v) => v.served !== false)
    .map((v) => {
      const schema = v.schema?.openAPIV3Schema;
      if (!schema)
        throw new Error(`${file}: version ${v.name} has no openAPIV3Schema (required in apiextensions/v1)`);
      return {
        group,
        version: v.name,
        resource: names.plural,
        singular: names.singular ?? names.kind.toLowerCase(),
        kind: names.kind,
        listKind: names.listKind ?? `${names.kind}List`,
        namespaced: scope === 'Namespaced',
        shortNames: names.shortNames ?? [],
        statusSubresource: v.subresources?.status !== undefined,
        validator: crdValidator(schema),
        ...(v.additionalPrinterColumns ? { printerColumns: v.additionalPrinterColumns } : {}),
      };
    });
}
