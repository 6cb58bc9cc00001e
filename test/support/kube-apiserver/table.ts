import type { Obj } from './object-store.js';
import type { Resource } from './resources.js';

/**
 * The meta.k8s.io/v1 Table a client gets when it asks for one (`Accept: ...;as=Table`, as kubectl get
 * does): NAME, the CRD's additionalPrinterColumns (simple `.a.b` JSONPaths), AGE.
 */

const valueAt = (object: unknown, jsonPath: string): unknown =>
  jsonPath
    .replace(/^\./, '')
    .split('.')
    .reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], object);

export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? '').split(',')[0]?.includes('as=Table') ?? false;
}

export function tableOf(resource: Resource, objects: Obj[], resourceVersion: string) {
  const columns = resource.printerColumns ?? [];
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: [
      {
        name: 'Name',
        type: 'string',
        format: 'name',
        description: 'Name must be unique within a namespace.',
        priority: 0,
      },
      ...columns.map((c) => ({ name: c.name, type: c.type, format: '', description: '', priority: 0 })),
      { name: 'Age', type: 'date', format: '', description: 'CreationTimestamp', priority: 0 },
    ],
    rows: objects.map((object) => ({
      cells: [
        object.metadata.name,
        ...columns.map((c) => valueAt(object, c.jsonPath) ?? null),
        object.metadata.creationTimestamp,
      ],
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: object.metadata },
    })),
  };
}
