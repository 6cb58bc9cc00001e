import type { Endpoint } from '../engine/engine.js';
import type { Runtime, ServerInfo } from './runtime.js';

/** How a caller checks readiness: a real client login against the endpoint, until the deadline. */
export type ReadyCheck = (endpoint: Endpoint, isAlive: () => Promise<boolean>) => Promise<void>;

/**
 * Gets a server (`start` creates one, or hands back one that runs) and waits until `ready` succeeds
 * against it, ending early when it dies. A server that exits at start or never gets ready is thrown
 * as `failed(reason, stage)`, the reason ending with its last log lines (errors of `start` itself pass
 * through): the one place servers are started and waited for.
 */
export async function startAndWaitReady(
  runtime: Runtime,
  start: () => Promise<ServerInfo>,
  ready: ReadyCheck,
  failed: (reason: string, stage: 'start' | 'ready') => Error,
): Promise<ServerInfo> {
  const server = await start();
  const logs = () => runtime.servers.logs(server.id, 20).catch(() => '(no log)');
  if (!server.running || server.hostPort === undefined) {
    throw failed(
      `server exited at start (exit code ${server.exitCode ?? 'unknown'}):\n${await logs()}`,
      'start',
    );
  }
  const alive = async () => (await runtime.servers.inspect(server.id))?.running ?? false;
  try {
    await ready({ host: runtime.connectHost, port: server.hostPort }, alive);
  } catch (error) {
    throw failed(`${(error as Error).message}\n${await logs()}`, 'ready');
  }
  return server;
}
