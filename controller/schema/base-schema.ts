import { existsSync } from 'node:fs';
import type { Layout } from '../layout.js';
import { type DatabaseRecord, SCHEMA_FORMAT, type SchemaSnapshot } from '../objects/index.js';
import { readJson } from '../util/files.js';

/**
 * Why a database cannot be compared now, in words that say what to do: the API answers it as a 409
 * (the request is fine; the state is not).
 */
export class SchemaDiffUnavailable extends Error {}

/** What a database's schema is compared with, and where it came from. */
export interface BaseSchema {
  readonly template: string;
  readonly version: string;
  readonly schema: SchemaSnapshot;
}

/**
 * The base schema of database `name`: the schema it started from, recorded when that was made. The one
 * place that knows where a database's base is. Today every database is a clone of a template version,
 * whose schema its import recorded beside it (Layout.versionSchemaFile). A database cloned from
 * another database (a branch) will have a base of its own: extend this function, not its callers.
 */
export async function baseSchema(layout: Layout, name: string, record: DatabaseRecord): Promise<BaseSchema> {
  const { template, templateVersion: version } = record;
  // Said rather than compared against the template underneath, which would list the source's changes too.
  if (record.branch)
    throw new SchemaDiffUnavailable(
      `${name} is a branch of database ${record.branch.database}: the schema at its branch point is not recorded yet, so there is nothing exact to compare with (diff compares databases cloned from a template version)`,
    );
  if (!version)
    throw new SchemaDiffUnavailable(
      `it has not been cloned from template ${template} yet: there is nothing to compare until it is`,
    );
  const schema = await readJson<SchemaSnapshot>(layout.versionSchemaFile(template, version));
  if (!schema) {
    if (existsSync(layout.versionMetaFile(template, version)))
      throw new SchemaDiffUnavailable(
        `template version ${template}/${version} was imported before schemas were recorded (or reading its schema failed: see the controller's log): reimport the template (myaas reimport ${template}); databases cloned from the new version (or reset onto it, which replaces their data) can then be compared`,
      );
    throw new SchemaDiffUnavailable(
      `template version ${template}/${version} is gone (pruned for newer versions, or the template was removed), and its recorded schema with it: a reset (myaas reset ${name}) moves the database onto the current version, replacing its data`,
    );
  }
  if (schema.format !== SCHEMA_FORMAT)
    throw new SchemaDiffUnavailable(
      `template version ${template}/${version} recorded its schema in format ${schema.format}, this myaas reads format ${SCHEMA_FORMAT}: reimport the template (myaas reimport ${template})`,
    );
  return { template, version, schema };
}
