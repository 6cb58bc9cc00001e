import * as client from '@kubernetes/client-node';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { Pod } from 'kubernetes-models/v1/Pod';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';

/**
 * Kubernetes' own OpenAPI schemas, as the `kubernetes-models` package compiles them: its validators
 * check types, required fields, enums and formats, but (like the OpenAPI document) accept unknown
 * fields. A real API server refuses those under strict field validation (kubectl's default), so
 * unknownFields() below adds that check, from the field lists of `@kubernetes/client-node`'s models
 * (generated from the same OpenAPI document).
 */
const MODELS: Record<string, { validate(): void; new (data: never): { validate(): void } }> = {
  'v1/Pod': Pod,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'v1/Secret': Secret,
  'apps/v1/Deployment': Deployment,
  'apps/v1/DaemonSet': DaemonSet,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'apiextensions.k8s.io/v1/CustomResourceDefinition': CustomResourceDefinition,
} as never;

/** Kinds that live in a namespace (the others here are cluster-scoped). */
export const NAMESPACED = new Set([
  'Pod',
  'Service',
  'ServiceAccount',
  'Secret',
  'Deployment',
  'DaemonSet',
  'Role',
  'RoleBinding',
]);

type FieldMap = { baseName: string; type: string }[];
const fieldsOf = (type: string): FieldMap | undefined =>
  (client as unknown as Record<string, { getAttributeTypeMap?: () => FieldMap }>)[
    type
  ]?.getAttributeTypeMap?.();

/** The paths of fields the type does not have, at any depth (`any`, `object` and scalars end the walk). */
export function unknownFields(value: unknown, type: string, at = ''): string[] {
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    return Array.isArray(value)
      ? value.flatMap((v, i) => unknownFields(v, array[1] as string, `${at}[${i}]`))
      : [];
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    return value && typeof value === 'object'
      ? Object.entries(value).flatMap(([k, v]) => unknownFields(v, map[1] as string, `${at}.${k}`))
      : [];
  }
  const fields = fieldsOf(type);
  if (!fields || !value || typeof value !== 'object' || Array.isArray(value)) return [];
  return Object.entries(value).flatMap(([key, v]) => {
    const field = fields.find((f) => f.baseName === key);
    return field ? unknownFields(v, field.type, `${at}.${key}`) : [`${at}.${key}`];
  });
}

/**
 * Throws with the schema's message when the manifest does not validate, or names a field its kind
 * does not have; an unknown kind is an error too.
 */
export function validateManifest(manifest: object): void {
  const { apiVersion, kind } = manifest as { apiVersion?: string; kind?: string };
  const Model = MODELS[`${apiVersion}/${kind}`];
  if (!Model) throw new Error(`no schema here for ${apiVersion} ${kind}`);
  new Model(manifest as never).validate();
  if (!fieldsOf(`V1${kind}`)) throw new Error(`no field list for ${kind}`);
  const unknown = unknownFields(manifest, `V1${kind}`);
  if (unknown.length > 0) throw new Error(`${kind}: unknown field(s) ${unknown.join(', ')}`);
}
