import { stringify } from 'yaml';
import { API_VERSION } from '../../controller/objects/index.js';

/** One fixture builder for spec objects and files, instead of YAML pasted into every test. */

type Fields = Record<string, unknown>;

export function templateObject(name: string, spec: Fields = {}, metadata: Fields = {}): Fields {
  return {
    apiVersion: API_VERSION,
    kind: 'Template',
    metadata: { name, ...metadata },
    spec: { engine: 'mariadb', source: { path: `${name}.sql` }, ...spec },
  };
}

export function databaseObject(name: string, spec: Fields = {}, metadata: Fields = {}): Fields {
  return {
    apiVersion: API_VERSION,
    kind: 'Database',
    metadata: { name, ...metadata },
    spec: { template: 'shop', ...spec },
  };
}

/** A multi-document YAML file of the given objects. */
export function specFile(...objects: Fields[]): string {
  return objects.map((o) => stringify(o)).join('---\n');
}
