import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { CloneMethod } from '../objects/index.js';
import { run } from '../util/exec.js';
import type { Storage } from './storage.js';
import { moveVolume, pathExists } from './volume-files.js';

/** btrfs subvolumes: clones and versions are snapshots, made in milliseconds whatever the size. */
export class BtrfsStorage implements Storage {
  readonly name = 'btrfs' as const;
  readonly atomicClone = true;

  /** Throws with the fix when `dir` is not on btrfs or subvolumes cannot be made there. */
  static async check(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    const type = (await run('stat', ['-f', '-c', '%T', dir])).trim();
    if (type !== 'btrfs') {
      throw new Error(
        `storage btrfs needs the data dir on a btrfs filesystem; ${dir} is on ${type}: mount btrfs there or use --storage copy`,
      );
    }
    const probe = path.join(dir, `.myaas-probe-${process.pid}`);
    await run('btrfs', ['subvolume', 'create', probe]);
    await run('btrfs', ['subvolume', 'delete', probe]);
  }

  async createVolume(target: string): Promise<void> {
    await mkdir(path.dirname(target), { recursive: true });
    await run('btrfs', ['subvolume', 'create', target]);
    // No copy-on-write for the files an import writes (inherited by new files): InnoDB rewrites pages
    // in place, and CoW makes every such write a new extent. Snapshots still share blocks; a clone's
    // first write to a page copies it once.
    await run('chattr', ['+C', target]);
  }

  async clone(source: string, target: string): Promise<CloneMethod> {
    await mkdir(path.dirname(target), { recursive: true });
    await run('btrfs', ['subvolume', 'snapshot', source, target]);
    return 'snapshot';
  }

  async cloneReadOnly(source: string, target: string): Promise<CloneMethod> {
    await mkdir(path.dirname(target), { recursive: true });
    await run('btrfs', ['subvolume', 'snapshot', '-r', source, target]);
    return 'snapshot';
  }

  async seal(work: string, target: string): Promise<void> {
    await this.cloneReadOnly(work, target);
    await this.remove(work);
  }

  async remove(target: string): Promise<void> {
    if (!(await this.exists(target))) return;
    // Subvolume roots have inode 256; anything else is a plain dir left by a crash mid-create.
    if ((await stat(target)).ino === 256) await run('btrfs', ['subvolume', 'delete', target]);
    else await rm(target, { recursive: true, force: true });
  }

  exists(target: string): Promise<boolean> {
    return pathExists(target);
  }

  /**
   * A rename; but a read-only subvolume (a template version) cannot change its parent dir, as its
   * `..` entry cannot be rewritten (EROFS): it moves as a read-only snapshot at the target (shared
   * blocks, no copy), then the source goes. A crash in between leaves both, never neither.
   */
  async move(source: string, target: string): Promise<void> {
    try {
      await moveVolume(source, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EROFS' || (await stat(source)).ino !== 256) throw error;
      await run('btrfs', ['subvolume', 'snapshot', '-r', source, target]);
      await run('btrfs', ['subvolume', 'delete', source]);
    }
  }
}
