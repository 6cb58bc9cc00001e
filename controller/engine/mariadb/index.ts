import type { EngineName } from '../../objects/index.js';
import { dsnOf } from '../connecting.js';
import type {
  ClientAccess,
  ConnectionInfo,
  DumpLoader,
  Engine,
  HostServer,
  ServerAdmin,
  ServerImage,
} from '../engine.js';
import { SEARCH_PATH } from '../host-programs.js';
import { MariadbAdmin } from './admin.js';
import { MysqlFlavor } from './flavor.js';
import { MariadbHostServer } from './host-server.js';
import { MariadbImage } from './image.js';
import { MariadbLoader } from './loader.js';

/** The interactive client and a mysql:// URL. */
class MariadbClient implements ClientAccess {
  constructor(readonly flavor: MysqlFlavor) {}

  command(c: ConnectionInfo): { command: string; args: string[]; env: Record<string, string> } {
    return {
      command: this.flavor.client,
      args: [`--host=${c.host}`, `--port=${c.port}`, `--user=${c.user}`, c.database],
      env: { MYSQL_PWD: c.password },
    };
  }

  dsn(c: ConnectionInfo): string {
    return dsnOf('mysql', c);
  }
}

/** MariaDB and MySQL (`name` says which): the official images share the env contract, datadir and port. */
export class MariadbEngine implements Engine {
  readonly image: ServerImage;
  readonly host: HostServer;
  readonly loader: DumpLoader;
  readonly admin: ServerAdmin;
  readonly client: ClientAccess;

  constructor(
    readonly name: EngineName = 'mariadb',
    /** Where the process runtime looks for the server, init tool and client. */
    searchPath: readonly string[] = SEARCH_PATH,
  ) {
    const flavor = new MysqlFlavor(name);
    this.image = new MariadbImage(flavor);
    this.host = new MariadbHostServer(flavor, searchPath);
    this.loader = new MariadbLoader(flavor);
    this.admin = new MariadbAdmin(flavor);
    this.client = new MariadbClient(flavor);
  }
}
