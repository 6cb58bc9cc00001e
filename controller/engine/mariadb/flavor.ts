import type { EngineName } from '../../objects/index.js';

/** MariaDB and MySQL differ in little: the programs' names and the official images' env prefix. */
export class MysqlFlavor {
  constructor(readonly name: EngineName) {}

  get isMysql(): boolean {
    return this.name === 'mysql';
  }

  /** The command-line client. */
  get client(): string {
    return this.isMysql ? 'mysql' : 'mariadb';
  }

  /** Prefix of the official image's init variables (MARIADB_ROOT_PASSWORD, MYSQL_ROOT_PASSWORD). */
  get envPrefix(): string {
    return this.isMysql ? 'MYSQL' : 'MARIADB';
  }
}

/** The account the controller administers MariaDB/MySQL servers with. */
export const ADMIN_USER = 'root';
