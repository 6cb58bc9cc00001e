import type { ServerImage } from '../engine.js';

/** The official `postgres` image: POSTGRES_PASSWORD, POSTGRES_DB, PGDATA, port 5432, uid 999. */
export class PostgresImage implements ServerImage {
  readonly dataDir = '/var/lib/postgresql/data';
  readonly port = 5432;
  // SIGTERM is a "smart" shutdown that waits for every client to leave; SIGINT is the fast, clean one.
  readonly stopSignal = 'SIGINT' as const;

  env(): Record<string, string> {
    // Newer official images moved their default PGDATA; the clone is mounted here, so say so.
    return { PGDATA: this.dataDir };
  }

  initEnv(adminPassword: string, database?: string): Record<string, string> {
    return { POSTGRES_PASSWORD: adminPassword, ...(database ? { POSTGRES_DB: database } : {}) };
  }

  serveArgs(): string[] {
    return [];
  }
}
