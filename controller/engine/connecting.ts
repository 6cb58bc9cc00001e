import { setTimeout as sleep } from 'node:timers/promises';
import type { ConnectionInfo } from './engine.js';

/**
 * Polls `probe` (a real client connection and query) until it succeeds: what "ready" means for every
 * engine. Refused credentials fail at once (they will not start working); a server that died fails
 * as soon as `isAlive` says so; otherwise the last error at the deadline.
 */
export async function pollReady(
  probe: () => Promise<void>,
  isAccessDenied: (error: unknown) => boolean,
  deadline: number,
  isAlive?: () => Promise<boolean>,
): Promise<void> {
  let lastError: unknown;
  let attempt = 0;
  while (Date.now() < deadline) {
    try {
      await probe();
      return;
    } catch (error) {
      lastError = error;
      if (isAccessDenied(error)) throw error;
    }
    attempt++;
    if (isAlive && attempt % 10 === 0 && !(await isAlive())) {
      throw new Error(`server exited before accepting connections (last error: ${String(lastError)})`);
    }
    // A refused connection costs well under a millisecond: poll often, readiness is on the hot path.
    await sleep(attempt < 200 ? 15 : 100);
  }
  throw new Error(`server did not accept connections in time: ${String(lastError)}`);
}

/** A driver URL: `<scheme>://user:password@host:port/database`, each part escaped. */
export function dsnOf(scheme: string, c: ConnectionInfo): string {
  const e = encodeURIComponent;
  return `${scheme}://${e(c.user)}:${e(c.password)}@${c.host}:${c.port}/${e(c.database)}`;
}

/**
 * Logs in to a clone as its admin: with the template's password(s) first, which work on a first
 * start (the usual case), then the new one, which works once a start got as far as replacing it.
 */
export async function firstLogin<C, K>(
  templateAdmins: readonly K[],
  newAdmin: K,
  connect: (credentials: K) => Promise<C>,
  who: string,
): Promise<C> {
  let lastError: unknown;
  for (const credentials of [...templateAdmins, newAdmin]) {
    try {
      return await connect(credentials);
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error(`cannot log in to the clone as ${who}: ${String(lastError)}`);
}
