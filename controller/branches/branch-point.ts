import type { Credentials, Engine } from '../engine/engine.js';
import type { Logger } from '../log.js';
import type { CloneMethod } from '../objects/index.js';
import type { Runtime, ServerInfo } from '../runtime/runtime.js';
import type { Storage } from '../storage/storage.js';

/** A running database to copy from: its server, its datadir, its engine and admin login. */
export interface LiveSource {
  readonly name: string;
  readonly server: ServerInfo;
  readonly dataDir: string;
  readonly engine: Engine;
  readonly admin: Credentials;
}

/**
 * What the copy is for: a work volume the caller goes on writing (a snapshot template's import), or
 * a read-only point made in one step (a branch point; see Storage.cloneReadOnly).
 */
export type CopyKind = 'writable' | 'readOnly';

/** Clones `from` to `target` as `copy` says. */
export function cloneAs(
  storage: Storage,
  copy: CopyKind,
  from: string,
  target: string,
): Promise<CloneMethod> {
  return copy === 'readOnly' ? storage.cloneReadOnly(from, target) : storage.clone(from, target);
}

/** What taking a branch point did, and what it cost the source. */
export interface BranchPointTaken {
  readonly at: Date;
  readonly method: CloneMethod;
  /** Writes held on the source, ms (MariaDB's FTWRL; 0 for PostgreSQL). */
  readonly lockMs: number;
  /** The source's server frozen while its files were copied, ms (0: an atomic snapshot, no pause). */
  readonly pausedMs: number;
}

/**
 * Copies a running database's datadir to `target` as one consistent point in time, while it keeps
 * serving: the engine makes the moment consistent (atConsistentPoint), and the copy is either an
 * atomic snapshot (btrfs: the server never stops) or, on storage that copies file by file, made with
 * the server frozen (a reflink copy takes milliseconds; a full copy as long as the data takes to
 * copy, which status reports). The copy is what a crash at that instant would leave: the new server
 * recovers it like after a power cut, with every committed transaction.
 */
export async function takeBranchPoint(
  deps: { readonly runtime: Runtime; readonly storage: Storage; readonly log: Logger },
  source: LiveSource,
  target: string,
  copy: CopyKind = 'writable',
): Promise<BranchPointTaken> {
  const { runtime, storage, log } = deps;
  if (source.server.hostPort === undefined) throw new Error(`database ${source.name} has no port`);
  const endpoint = { host: runtime.connectHost, port: source.server.hostPort };
  let at = new Date();
  let pausedMs = 0;
  const { result: method, lockMs } = await source.engine.admin.atConsistentPoint(
    endpoint,
    source.admin,
    async () => {
      at = new Date();
      if (storage.atomicClone) return cloneAs(storage, copy, source.dataDir, target);
      await runtime.servers.pause(source.server.id);
      const paused = Date.now();
      try {
        return await cloneAs(storage, copy, source.dataDir, target);
      } finally {
        await runtime.servers.resume(source.server.id);
        pausedMs = Date.now() - paused;
      }
    },
  );
  log.info({ source: source.name, method, lockMs, pausedMs }, 'branch point taken');
  return { at, method, lockMs, pausedMs };
}
