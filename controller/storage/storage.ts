import type { CloneMethod } from '../objects/index.js';

/**
 * Where datadirs live: templates' read-only versions and databases' writable clones. Implementations:
 * BtrfsStorage (subvolumes and snapshots) and CopyStorage (reflink where possible, else a plain copy).
 */
export interface Storage {
  readonly name: 'btrfs' | 'copy';
  /**
   * Whether `clone` of a volume in use is one atomic point in time (a btrfs snapshot), as a crash
   * would leave it; otherwise files are copied one by one, and a live source must hold still meanwhile.
   */
  readonly atomicClone: boolean;
  /** Makes an empty writable volume at `target` (parents are created). */
  createVolume(target: string): Promise<void>;
  /** Makes a writable clone of `source` at `target`; says which method it used. */
  clone(source: string, target: string): Promise<CloneMethod>;
  /**
   * Makes a read-only clone of `source` at `target` in one step (a branch point): a crash leaves it
   * whole or absent, never half made. btrfs: one read-only snapshot, where clone-then-seal would cost
   * a second snapshot and a subvolume delete on the branch's hot path.
   */
  cloneReadOnly(source: string, target: string): Promise<CloneMethod>;
  /** Turns a finished work volume into a read-only version at `target`; `work` is consumed. */
  seal(work: string, target: string): Promise<void>;
  /** Removes a volume made by this storage; a missing one is not an error. */
  remove(target: string): Promise<void>;
  /** Moves a volume within the data root (into or out of the trash): a rename, whatever the volume. */
  move(source: string, target: string): Promise<void>;
  /**
   * True when `target` exists, false only when it is absent (ENOENT); any other error (EACCES, EIO)
   * is thrown: an unreadable thing is never taken for a missing one.
   */
  exists(target: string): Promise<boolean>;
}
