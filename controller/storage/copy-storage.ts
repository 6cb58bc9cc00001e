import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import type { CloneMethod } from '../objects/index.js';
import { CommandError, run } from '../util/exec.js';
import type { Storage } from './storage.js';
import { moveVolume, pathExists } from './volume-files.js';

class ReflinkRefused extends Error {}

/** What cp says when the filesystem (or the pair of them) cannot share extents. */
const REFLINK_REFUSED = /failed to clone|operation not supported|invalid cross-device link|not supported/i;

/**
 * Plain directories. Clones use reflinks where the filesystem shares extents (btrfs, XFS), and say
 * so; elsewhere they are full copies, and say that too: never a silent full copy.
 */
export class CopyStorage implements Storage {
  readonly name = 'copy' as const;
  readonly atomicClone = false;
  readonly #log: Logger;
  /** Source and target devices (st_dev) whose filesystems refused `cp --reflink=always`. */
  readonly #cannotReflink = new Set<string>();

  constructor(log: Logger) {
    this.#log = log.child({ component: 'copy-storage' });
  }

  async createVolume(target: string): Promise<void> {
    await mkdir(target, { recursive: true });
  }

  async clone(source: string, target: string): Promise<CloneMethod> {
    await mkdir(path.dirname(target), { recursive: true });
    // Copied under a temporary name and renamed when complete: a half copy is never taken for a clone.
    const partial = `${target}.partial-${randomBytes(4).toString('hex')}`;
    // A filesystem that refused a reflink once refuses it again: skip the failing attempt (a process
    // spawn and a partial tree to remove, ~20 ms on every clone's hot path). Keyed by both devices:
    // a target on another filesystem cannot share extents either.
    const devices = `${(await stat(source)).dev}:${(await stat(path.dirname(target))).dev}`;
    try {
      let method: CloneMethod = 'reflink';
      try {
        if (this.#cannotReflink.has(devices)) throw new ReflinkRefused();
        await run('cp', ['-a', '--reflink=always', source, partial], { timeoutMs: 3_600_000 });
      } catch (error) {
        if (!(error instanceof CommandError || error instanceof ReflinkRefused)) throw error;
        // cp ran and left a partial tree: a second cp into an existing directory would nest the copy.
        if (error instanceof CommandError) await rm(partial, { recursive: true, force: true });
        // Only a refusal to share extents is remembered; any other failure (no space, a file gone
        // meanwhile, a timeout) says nothing of the next clone.
        if (error instanceof CommandError && REFLINK_REFUSED.test(error.stderr)) {
          if (!this.#cannotReflink.has(devices)) {
            this.#cannotReflink.add(devices);
            // Said once per filesystem pair here; every clone's status and event say `copy`.
            this.#log.warn(
              { source, target },
              'filesystem cannot reflink; clones on it are full copies (slow for big templates)',
            );
          }
        } else if (error instanceof CommandError) {
          this.#log.warn({ source, target, err: error.message }, 'reflink copy failed; making a full copy');
        }
        await run('cp', ['-a', source, partial], { timeoutMs: 3_600_000 });
        method = 'copy';
      }
      await rename(partial, target);
      return method;
    } catch (error) {
      await rm(partial, { recursive: true, force: true });
      throw error;
    }
  }

  /** Plain directories have no read-only volumes: a clone, staged and renamed whole (see clone). */
  cloneReadOnly(source: string, target: string): Promise<CloneMethod> {
    return this.clone(source, target);
  }

  async seal(work: string, target: string): Promise<void> {
    await mkdir(path.dirname(target), { recursive: true });
    await rename(work, target);
  }

  async remove(target: string): Promise<void> {
    await rm(target, { recursive: true, force: true });
  }

  exists(target: string): Promise<boolean> {
    return pathExists(target);
  }

  move(source: string, target: string): Promise<void> {
    return moveVolume(source, target);
  }
}
