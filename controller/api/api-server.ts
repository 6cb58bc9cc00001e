import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { Logger } from '../log.js';
import type { RunningController } from '../run.js';
import { isLoopbackHost, refuseCrossSite } from './access.js';
import { type Caller, LOCAL_ADMIN, Users } from './auth.js';
import { HttpError, sendJson } from './http.js';
import { nativeRoutes } from './native-api.js';
import type { ApiContext, Route } from './routes.js';
import { seedRoutes } from './seed-api.js';
import { SpecWriter } from './spec-writer.js';
import { uiRoutes, wantsPage } from './ui-assets.js';

/**
 * The HTTP API: the original myaas routes (same paths, fields and codes) and the native `/api/v1`.
 * It never touches servers itself: it writes specs into the managed folder and reads status.
 */
export class ApiServer {
  readonly #routes: Route[];
  readonly #ui: boolean;
  readonly #users: Users;
  readonly #log: Logger;
  #server: Server | undefined;

  constructor(context: ApiContext, users: Users) {
    const ui = uiRoutes(context.uiDir);
    this.#ui = ui.length > 0;
    this.#routes = [...ui, ...nativeRoutes(context, () => users.configured), ...seedRoutes(context)];
    this.#users = users;
    this.#log = context.log.child({ component: 'api' });
  }

  /** Listens on `host:port`; resolves with the port actually bound (0 picks one). */
  async listen(address: string, options: { insecureNoAuth?: boolean } = {}): Promise<number> {
    const colon = address.lastIndexOf(':');
    const host = colon > 0 ? address.slice(0, colon) : '127.0.0.1';
    const port = Number(colon >= 0 ? address.slice(colon + 1) : address);
    await this.#users.load(true);
    // Closed by default: anyone who reaches the port would read every password and run any image.
    if (!this.#users.configured && !isLoopbackHost(host) && !options.insecureNoAuth) {
      throw new Error(
        `refusing to listen on ${address} without users: anyone reaching it could read every database's password. Add a users file (--users users.yaml, see README "Team server"; \`myaas hash-token\` makes a token), or set MYAAS_API_TOKEN, or listen on 127.0.0.1; on a trusted network only, --insecure-no-auth`,
      );
    }
    const server = createServer((req, res) => void this.#handle(req, res));
    server.requestTimeout = 120_000;
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          new Error(
            error.code === 'EADDRINUSE'
              ? `API address ${address} is in use: stop what listens there or set --listen`
              : `API cannot listen on ${address}: ${error.message}`,
          ),
        ),
      );
      server.listen(port, host, () => resolve());
    });
    const bound = server.address();
    const boundPort = typeof bound === 'object' && bound ? bound.port : port;
    this.#log.info({ host, port: boundPort, auth: this.#users.configured }, 'API listening');
    return boundPort;
  }

  /** Whether some route answers GET of this path (the quick start's banner names /ui/ only when it does). */
  serves(path: string): boolean {
    return this.#routes.some((r) => r.method === 'GET' && r.pattern.test(path));
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return sendJson(res, 400, { status: 'Bad request URL' });
    }
    try {
      const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
      // A browser opening the controller's address gets the web UI; clients of the original API, JSON.
      if (path === '/' && this.#ui && wantsPage(req)) {
        res.writeHead(302, { location: '/ui/' });
        return void res.end();
      }
      let matched: { route: Route; params: string[] } | undefined;
      let pathKnown = false;
      for (const route of this.#routes) {
        const match = route.pattern.exec(path);
        if (!match) continue;
        pathKnown = true;
        if (route.method === req.method) {
          let params: string[];
          try {
            params = match.slice(1).map((p) => decodeURIComponent(p));
          } catch {
            return sendJson(res, 400, { status: 'Bad escape in the request path' });
          }
          matched = { route, params };
          break;
        }
      }
      if (!matched) {
        return sendJson(res, pathKnown ? 405 : 404, {
          status: pathKnown ? 'Method not allowed' : 'Not found',
        });
      }
      let caller: Caller = LOCAL_ADMIN;
      if (!matched.route.open) {
        refuseCrossSite(req, !this.#users.configured);
        if (this.#users.configured) {
          const known = await this.#users.authenticate(req);
          if (!known) {
            res.setHeader('www-authenticate', 'Bearer, Basic realm="myaas"');
            return sendJson(res, 401, {
              status:
                'Unauthorized: send your token as Authorization: Bearer <token>, or as the password of basic auth (curl -u NAME:TOKEN); `myaas login` stores it for the CLI',
            });
          }
          caller = known;
        }
      }
      await matched.route.handler(req, res, matched.params, url, caller);
      // Who changed what: every create, change, delete, restore and confirmation, never a body.
      if (req.method !== 'GET' && req.method !== 'HEAD' && res.statusCode < 400) {
        this.#log.info(
          { user: caller.name, role: caller.role, method: req.method, path, status: res.statusCode },
          'audit',
        );
      }
    } catch (error) {
      if (error instanceof HttpError) {
        // An unread body (413) must not leave the connection for reuse: close it.
        if (error.status === 413) res.setHeader('connection', 'close');
        if (!res.headersSent) sendJson(res, error.status, error.body);
      } else {
        this.#log.error({ err: error, method: req.method, url: req.url }, 'API handler failed');
        if (!res.headersSent) sendJson(res, 500, { status: `Internal error: ${(error as Error).message}` });
      }
    } finally {
      this.#log.debug(
        { method: req.method, url: req.url, status: res.statusCode, ms: Date.now() - started },
        'request',
      );
    }
  }
}

/** The API of a running controller; `token` is the single MYAAS_API_TOKEN, `usersFile` the users file. */
export function createApi(
  running: RunningController,
  log: Logger,
  token?: string,
  usersFile?: string,
): ApiServer {
  return new ApiServer(
    {
      running,
      writer: new SpecWriter(running.config.specsDir, (file, how) =>
        running.desired.specs.refresh([file], how),
      ),
      log,
      waitSeconds: 60,
    },
    new Users(usersFile, token),
  );
}
