import { readdir } from 'node:fs/promises';
import path from 'node:path';

/**
 * Which files in the specs dir are spec files: `.yaml`/`.yml`, not hidden, not an editor's leftover.
 * Leftovers (`x.yaml~`, `x.yaml.swp`, `#x.yaml#`, `x.yaml.tmp`) already fail the extension test;
 * hidden files and folders (`.git/`, `.x.yaml.swp`) are skipped at every level.
 */
export function isSpecFile(relativePath: string): boolean {
  const segments = relativePath.split(/[\\/]/);
  if (segments.some((s) => s.startsWith('.') && s !== '.')) return false;
  const base = segments[segments.length - 1] ?? '';
  return /\.ya?ml$/.test(base) && !base.startsWith('#');
}

export function isIgnoredDir(relativePath: string): boolean {
  return relativePath.split(/[\\/]/).some((s) => s.startsWith('.') && s !== '.' && s !== '..');
}

/** Lists spec files under `root` recursively, as paths relative to it. Throws when `root` is unreadable. */
export async function listSpecFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (relDir: string): Promise<void> => {
    const entries = await readdir(path.join(root, relDir), { withFileTypes: true });
    for (const entry of entries) {
      const rel = relDir ? path.join(relDir, entry.name) : entry.name;
      if (entry.isDirectory()) {
        if (!isIgnoredDir(rel)) await walk(rel).catch(ignoreVanished);
      } else if ((entry.isFile() || entry.isSymbolicLink()) && isSpecFile(rel)) {
        out.push(rel);
      }
    }
  };
  await walk('');
  return out.sort();
}

/** A subfolder that vanished mid-walk is fine; any other failure makes the whole listing fail. */
function ignoreVanished(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT' && error.code !== 'ENOTDIR') throw error;
}
