import { access, mkdir, rename } from 'node:fs/promises';
import path from 'node:path';

/** Whether a path exists; false only on ENOENT, any other error (EACCES, EIO) is thrown. */
export async function pathExists(target: string): Promise<boolean> {
  try {
    await access(target);
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
