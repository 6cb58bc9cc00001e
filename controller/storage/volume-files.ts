import { accessSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';

/**
 * Whether a path exists; false only on ENOENT, any other error (EACCES, EIO) is thrown.
 * Synchronous on purpose: every database's pass asks it (10,000 per resync at scale), and on the
 * local data root an access(2) takes ~3 µs, where the promise API's thread-pool round trip costs
 * ~35 µs of CPU each (measured side by side): it was 16% of a 10,000-object pass. Exact, unlike a
 * cached listing would be.
 */
export async function pathExists(target: string): Promise<boolean> {
  try {
    accessSync(target);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** A rename within one filesystem: a writable btrfs subvolume moves like a dir (a read-only one: see BtrfsStorage.move). */
export async function moveVolume(source: string, target: string): Promise<void> {
  await mkdir(path.dirname(target), { recursive: true });
  await rename(source, target);
}
