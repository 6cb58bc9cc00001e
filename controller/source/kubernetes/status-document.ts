import type { DatabaseStatus, Kind, TemplateStatus } from '../../objects/index.js';

/**
 * The status a custom resource carries: the fields its CRD declares (crds-examples/*.crd.yaml), taken
 * from the controller's status. Credentials never: a database's password goes to its Secret only.
 */

const pick = <T extends object>(source: T, keys: readonly (keyof T)[]): Partial<T> =>
  Object.fromEntries(keys.filter((k) => source[k] !== undefined).map((k) => [k, source[k]])) as Partial<T>;

export function databaseStatusDocument(status: DatabaseStatus): Record<string, unknown> {
  return {
    ...pick(status, [
      'phase',
      'message',
      'observedGeneration',
      'createdAt',
      'expiresAt',
      'expiredAt',
      'templateVersion',
      'engine',
      'cloneMethod',
    ]),
    ...(status.connection
      ? { connection: pick(status.connection, ['host', 'port', 'user', 'database']) }
      : {}),
    conditions: status.conditions,
  };
}

export function templateStatusDocument(status: TemplateStatus): Record<string, unknown> {
  const lastImport = status.lastImport;
  return {
    ...pick(status, [
      'phase',
      'message',
      'observedGeneration',
      'createdAt',
      'currentVersion',
      'versions',
      'progress',
    ]),
    ...(lastImport
      ? {
          lastImport: pick(lastImport, [
            'version',
            'startedAt',
            'finishedAt',
            'durationSeconds',
            'bytes',
            'jobs',
            'result',
            'error',
          ]),
        }
      : {}),
    conditions: status.conditions,
  };
}

export function statusDocument(kind: Kind, status: DatabaseStatus | TemplateStatus): Record<string, unknown> {
  return kind === 'Database'
    ? databaseStatusDocument(status as DatabaseStatus)
    : templateStatusDocument(status as TemplateStatus);
}
