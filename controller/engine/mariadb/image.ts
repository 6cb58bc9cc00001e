import type { ServerImage } from '../engine.js';
import type { MysqlFlavor } from './flavor.js';

/** The official `mariadb`/`mysql` images: same env contract (but the prefix), datadir and port. */
export class MariadbImage implements ServerImage {
  readonly dataDir = '/var/lib/mysql';
  readonly port = 3306;
  readonly stopSignal = 'SIGTERM' as const;

  constructor(readonly flavor: MysqlFlavor) {}

  env(): Record<string, string> {
    return {};
  }

  initEnv(adminPassword: string, database?: string): Record<string, string> {
    const prefix = this.flavor.envPrefix;
    return {
      [`${prefix}_ROOT_PASSWORD`]: adminPassword,
      ...(database ? { [`${prefix}_DATABASE`]: database } : {}),
      [`${prefix}_ROOT_HOST`]: '%',
    };
  }

  serveArgs(): string[] {
    return ['--skip-name-resolve'];
  }
}
