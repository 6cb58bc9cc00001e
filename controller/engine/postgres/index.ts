import { dsnOf } from '../connecting.js';
import type { ClientAccess, ConnectionInfo, Engine } from '../engine.js';
import { PostgresAdmin } from './admin.js';
import { PostgresHostServer } from './host-server.js';
import { PostgresImage } from './image.js';
import { PostgresLoader } from './loader.js';

/** psql, logged in, and a postgresql:// URL. */
class PostgresClient implements ClientAccess {
  command(c: ConnectionInfo): { command: string; args: string[]; env: Record<string, string> } {
    return {
      command: 'psql',
      args: ['-h', c.host, '-p', String(c.port), '-U', c.user, c.database],
      env: { PGPASSWORD: c.password },
    };
  }

  dsn(c: ConnectionInfo): string {
    return dsnOf('postgresql', c);
  }
}

/**
 * PostgreSQL: the official `postgres` image's contract (POSTGRES_PASSWORD, POSTGRES_DB, PGDATA at
 * /var/lib/postgresql/data, port 5432, uid 999), plain dumps through psql with ON_ERROR_STOP and
 * custom-format archives through pg_restore.
 */
export class PostgresEngine implements Engine {
  readonly name = 'postgres' as const;
  readonly image = new PostgresImage();
  readonly host = new PostgresHostServer();
  readonly loader = new PostgresLoader();
  readonly admin = new PostgresAdmin();
  readonly client = new PostgresClient();
}
