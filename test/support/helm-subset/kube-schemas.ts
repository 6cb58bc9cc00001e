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
 * Kubernetes' own OpenAPI schemas, as the `kubernetes-models` package compiles them (its validators
 * check types, required fields, enums and formats; like the OpenAPI document they come from, they do
 * NOT reject unknown fields, which a real API server's strict field validation would).
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

/** Throws with the schema's message when the manifest does not validate; an unknown kind is an error too. */
export function validateManifest(manifest: object): void {
  const { apiVersion, kind } = manifest as { apiVersion?: string; kind?: string };
  const Model = MODELS[`${apiVersion}/${kind}`];
  if (!Model) throw new Error(`no schema here for ${apiVersion} ${kind}`);
  new Model(manifest as never).validate();
}
