import type { EngineName } from './meta.js';
import type { SchemaChange } from './schema.js';

/**
 * What the native API answers beside whole objects, as its clients (CLI, web UI) read it: one
 * definition for the server that writes these and every client that reads them.
 */

/** `GET /api/v1/trash` items: what was removed and until when, never its credentials. */
export interface TrashItemView {
  kind: 'Database' | 'Template';
  id: string;
  name: string;
  reason: string;
  trashedAt: string;
  expiresAt: string;
  /** Databases: the template and version they were cloned from. */
  template?: string;
  templateVersion?: string;
  /** Templates: the versions kept. */
  versions?: string[];
}

/** `GET /api/v1/databases/NAME/connection`: how to reach a database, secrets included. */
export interface ConnectionView {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  engine: EngineName;
  dsn: string;
  /** The engine's client as a shell line, the password in its environment. */
  command: string;
}

/** `GET /api/v1/info`: what a client needs before logging in. */
export interface InfoView {
  version: string;
  /** Whether a token is needed (the controller has users), or it is the local single-user mode. */
  auth: boolean;
  /** How long removed objects stay restorable (0: no trash). */
  trashRetentionSeconds: number;
}

/** `GET /api/v1/deletions` and its confirmation: held (or confirmed) removals by kind. */
export interface HeldView {
  databases: string[];
  templates: string[];
}

/**
 * `GET /api/v1/databases/NAME/diff`: what the database's schema changed against the template version
 * it was cloned from (its base), sorted by kind, then name.
 */
export interface SchemaDiffView {
  database: string;
  base: { template: string; version: string };
  changes: SchemaChange[];
}
