import { engineFor } from '../engine/engines.js';
import type { Layout } from '../layout.js';
import type { DatabaseRecord, DatabaseStatus, SchemaDiffView } from '../objects/index.js';
import { type Runtime, runningDatabaseServer } from '../runtime/runtime.js';
import { SchemaDiffUnavailable, baseSchema } from './base-schema.js';
import { diffSchemas } from './schema-diff.js';

/** The database's server answered, but reading its schema failed (the API's 502). */
export class SchemaReadError extends Error {}

export interface DatabaseDiffDeps {
  readonly layout: Layout;
  readonly runtime: Runtime;
}

/**
 * What database `name` changed in its schema since its base (baseSchema): its schema read live from
 * its running server, as its own admin, compared with the one recorded when its base was made.
 */
export async function diffDatabase(
  deps: DatabaseDiffDeps,
  name: string,
  record: DatabaseRecord,
  status: DatabaseStatus,
): Promise<SchemaDiffView> {
  const base = await baseSchema(deps.layout, name, record);
  if (status.phase === 'Stopped')
    throw new SchemaDiffUnavailable(
      `it is stopped: its schema is read from its server, so start it first (myaas start ${name} --wait; one declared in a spec file: spec.state: Running there)`,
    );
  if (status.phase !== 'Ready')
    throw new SchemaDiffUnavailable(`it is not ready (${status.phase}): try again once it is Ready`);
  const server = await runningDatabaseServer(deps.runtime, name, record.adoptedServer);
  if (!server?.hostPort)
    throw new SchemaDiffUnavailable('its server is not running now: try again once it is Ready');
  const engine = engineFor(record.engine ?? status.engine);
  const admin = { user: engine.admin.user, password: record.adminPassword };
  const endpoint = { host: deps.runtime.connectHost, port: server.hostPort };
  const database = record.database ?? status.connection?.database;
  if (!database)
    throw new SchemaDiffUnavailable('its schema name is not known yet: try again once it is Ready');
  const current = await engine.admin.readSchema(endpoint, admin, database).catch((error: Error) => {
    throw new SchemaReadError(`reading its schema failed: ${error.message}`);
  });
  return {
    database: name,
    base: { template: base.template, version: base.version },
    changes: diffSchemas(base.schema, current),
  };
}
