import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import type { Logger } from '../log.js';

/** Who holds a data dir: what the lock file says, and what a refused second controller is told. */
export interface LockHolder {
  readonly pid: number;
  readonly hostname: string;
  /** ISO 8601. */
  readonly startedAt: string;
  /** The holder's command line as /proc/<pid>/cmdline gave it (or its argv): a reused pid runs another. */
  readonly command: string[];
  /** Random, per acquisition: a release removes only its own lock. */
  readonly token: string;
}

export const LOCK_FILE = 'controller.lock';

/** Another live controller holds the data dir. */
export class DataDirLockedError extends Error {
  constructor(
    message: string,
    readonly holder: LockHolder,
  ) {
    super(message);
  }
}

/** Locks this process holds now (two in-process controllers on one data dir are refused too). */
const heldHere = new Set<string>();

/**
 * One controller per data dir. Node has no flock, so the lock is a file made whole and exclusively
 * (written to a temp file, then hard-linked to `controller.lock`: a reader never sees it half
 * written), naming its holder. A lock whose process is gone, or whose pid now runs another command
 * line (a reused pid, a zombie, a container's pid 1 after a restart), is stale: it is moved aside,
 * checked to be the one judged stale, and taken over, with a warning. A lock held from another host
 * cannot be checked and is never taken over. Removed on a clean shutdown.
 */
export class DataDirLock {
  private constructor(
    readonly file: string,
    readonly holder: LockHolder,
  ) {}

  static async acquire(dataDir: string, log: Logger): Promise<DataDirLock> {
    const file = path.join(path.resolve(dataDir), LOCK_FILE);
    const holder: LockHolder = {
      pid: process.pid,
      hostname: hostname(),
      startedAt: new Date().toISOString(),
      command: ownCommand(),
      token: randomBytes(8).toString('hex'),
    };
    for (let attempt = 0; attempt < 5; attempt++) {
      if (await createExclusive(file, holder)) {
        heldHere.add(file);
        return new DataDirLock(file, holder);
      }
      const content = await readFile(file, 'utf8').catch(notFound);
      if (content === undefined) continue; // released meanwhile: try again
      const other = parseHolder(content);
      const stale = other ? staleBecause(file, other) : 'the lock file is unreadable';
      if (!stale) throw new DataDirLockedError(lockedMessage(dataDir, file, other!), other!);
      if (await moveAsideIfSame(file, content, holder.token)) {
        log.warn({ file, holder: other, reason: stale }, `stale controller lock taken over (${stale})`);
      }
    }
    throw new Error(
      `could not take ${file}: other controllers kept taking it; make sure only one controller is started on this data dir`,
    );
  }

  /** Removes the lock, if it is still this acquisition's. */
  async release(): Promise<void> {
    heldHere.delete(this.file);
    const content = await readFile(this.file, 'utf8').catch(notFound);
    if (content !== undefined && parseHolder(content)?.token === this.holder.token)
      await rm(this.file, { force: true });
  }
}

/** Creates the lock with its content in one step; false when a lock is there already. */
async function createExclusive(file: string, holder: LockHolder): Promise<boolean> {
  const temp = `${file}.${holder.token}.tmp`;
  try {
    await writeFile(temp, `${JSON.stringify(holder, null, 2)}\n`, { mode: 0o644 });
    await link(temp, file);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    throw new Error(
      `data dir ${path.dirname(file)} is not writable (${code ?? (error as Error).message}): cannot take ${file}; fix its permissions or set --data`,
    );
  } finally {
    await rm(temp, { force: true }).catch(() => undefined);
  }
}

/**
 * Moves a stale lock out of the way, then checks that what moved is the lock judged stale: when
 * another starter took over meanwhile, the lock moved is theirs, and goes back. True when moved.
 */
async function moveAsideIfSame(file: string, judged: string, token: string): Promise<boolean> {
  const aside = `${file}.stale-${token}`;
  try {
    await rename(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  const moved = await readFile(aside, 'utf8').catch(() => '');
  if (moved !== judged) await link(aside, file).catch(() => undefined);
  await rm(aside, { force: true });
  return moved === judged;
}

/** Why the holder's lock is stale, or undefined while it may still be running. */
function staleBecause(file: string, other: LockHolder): string | undefined {
  if (other.hostname !== hostname()) return undefined; // its processes cannot be seen from here
  if (other.pid === process.pid)
    return heldHere.has(file) ? undefined : `pid ${other.pid} is this process: left by an earlier run`;
  try {
    process.kill(other.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return `process ${other.pid} is gone`;
    // EPERM: it exists, under another user.
  }
  let cmdline: string[];
  try {
    cmdline = readFileSync(`/proc/${other.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return `process ${other.pid} is gone`;
    return undefined; // no /proc here: a live pid is taken for the holder
  }
  if (cmdline.join('\0') !== other.command.join('\0'))
    return `pid ${other.pid} now runs something else (${cmdline.join(' ').slice(0, 200) || 'a zombie'})`;
  return undefined;
}

function lockedMessage(dataDir: string, file: string, other: LockHolder): string {
  const where = other.hostname === hostname() ? '' : ` on host ${other.hostname}`;
  const command = other.command.join(' ');
  return (
    `another controller uses data dir ${dataDir}: pid ${other.pid}${where}, running since ${other.startedAt}` +
    `${command ? ` (${command.length > 200 ? `${command.slice(0, 200)}...` : command})` : ''}. ` +
    `Only one controller may use a data dir: stop that one first (kill ${other.pid}${where}), or give this one another --data. ` +
    `If no such controller runs any more, remove ${file}`
  );
}

function parseHolder(content: string): LockHolder | undefined {
  try {
    const value = JSON.parse(content) as LockHolder;
    if (!Number.isInteger(value.pid) || value.pid <= 0 || typeof value.hostname !== 'string')
      return undefined;
    if (!Array.isArray(value.command)) return undefined;
    return value;
  } catch {
    return undefined;
  }
}

/** This process's command line as /proc shows it to others (what a stale check compares with). */
function ownCommand(): string[] {
  try {
    return readFileSync('/proc/self/cmdline', 'utf8').split('\0').filter(Boolean);
  } catch {
    return [process.argv0, ...process.execArgv, ...process.argv.slice(1)];
  }
}

function notFound(error: NodeJS.ErrnoException): undefined {
  if (error.code === 'ENOENT') return undefined;
  throw error;
}
