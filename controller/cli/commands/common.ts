import { type ApiClient, CliError } from '../api-client.js';

/** Where a command writes its result, one block at a time. */
export type Out = (text: string) => void;

/** What every client command is given: an API client per call (from the environment) and its output. */
export interface CommandContext {
  readonly client: () => ApiClient;
  readonly out: Out;
}

const KINDS: Record<string, 'templates' | 'databases'> = {
  template: 'templates',
  templates: 'templates',
  tpl: 'templates',
  database: 'databases',
  databases: 'databases',
  db: 'databases',
};

/** The API's collection for a kind as users type it (`db`, `template`, `Databases`...). */
export function plural(kind: string): 'templates' | 'databases' {
  const p = KINDS[kind.toLowerCase()];
  if (!p) throw new CliError(`unknown kind "${kind}": use templates or databases`);
  return p;
}
