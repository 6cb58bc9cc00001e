import type { V1Secret } from '@kubernetes/client-node';
import type { DatabaseRecord, DatabaseStatus } from '../../objects/index.js';
import { GROUP, VERSION } from './custom-resources.js';
import type { ResourceLocation } from './kubernetes-desired-state.js';

/**
 * A database's credentials as a Kubernetes Secret in its namespace, owned by its Database resource
 * (ownerReferences, controller): the garbage collector removes it with the resource, and status never
 * holds a password.
 */

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const DATABASE_LABEL = 'myaas.dev/database';

/** What a Database resource's own objects (Secret, Pod, Service) name as their owner: removed with it. */
export const databaseOwnerReference = (location: ResourceLocation) => ({
  apiVersion: `${GROUP}/${VERSION}`,
  kind: 'Database',
  name: location.name,
  uid: location.uid,
  controller: true,
  blockOwnerDeletion: true,
});

export const credentialsSecretName = (database: string) => `${database}-credentials`;

const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

function uriOf(
  engine: string | undefined,
  user: string,
  password: string,
  host: string,
  port: number,
  database: string,
): string {
  const scheme = engine === 'postgres' ? 'postgresql' : 'mysql';
  return `${scheme}://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${encodeURIComponent(database)}`;
}

/** The Secret for a database once it has an endpoint and credentials; undefined before. */
export function credentialsSecret(
  location: ResourceLocation,
  status: DatabaseStatus,
  record: DatabaseRecord,
): V1Secret | undefined {
  const connection = status.connection;
  if (!connection || !record.user?.password) return undefined;
  const { host, port, database } = connection;
  const { user, password } = record.user;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: credentialsSecretName(location.name),
      namespace: location.namespace,
      labels: { [MANAGED_BY_LABEL]: 'myaas', [DATABASE_LABEL]: location.name },
      ownerReferences: [databaseOwnerReference(location)],
    },
    data: {
      host: base64(host),
      port: base64(String(port)),
      username: base64(user),
      password: base64(password),
      database: base64(database),
      ...(status.engine ? { engine: base64(status.engine) } : {}),
      uri: base64(uriOf(status.engine, user, password, host, port, database)),
    },
  };
}

/** Whether an existing Secret of that name is this resource's (else it is left alone). */
export function ownedBy(secret: V1Secret, location: ResourceLocation): boolean {
  return (secret.metadata?.ownerReferences ?? []).some((ref) => ref.uid === location.uid && ref.controller);
}
