import { constants, access } from 'node:fs/promises';
import path from 'node:path';

/** Where host programs are looked for: PATH and the usual sbin dirs. */
export const SEARCH_PATH = [
  ...(process.env.PATH ?? '').split(':'),
  '/usr/sbin',
  '/usr/local/sbin',
  '/usr/libexec',
];

/** First of `names` found as an executable in `dirs`. */
export async function findProgram(
  names: readonly string[],
  dirs: readonly string[],
): Promise<string | undefined> {
  for (const name of names) {
    for (const dir of dirs) {
      if (!dir) continue;
      const candidate = path.join(dir, name);
      try {
        await access(candidate, constants.X_OK);
        return candidate;
      } catch {
        // keep looking
      }
    }
  }
  return undefined;
}

export async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds each wanted program (the first of its names found in `dirs`); when any is missing, throws
 * one error naming them all and the package that brings them.
 */
export async function requirePrograms<K extends string>(
  wanted: Record<K, { readonly names: readonly string[]; readonly label: string }>,
  dirs: readonly string[],
  product: string,
  packages: string,
): Promise<Record<K, string>> {
  const found = {} as Record<K, string>;
  const missing: string[] = [];
  for (const key of Object.keys(wanted) as K[]) {
    const program = await findProgram(wanted[key].names, dirs);
    if (program) found[key] = program;
    else missing.push(wanted[key].label);
  }
  if (missing.length > 0) {
    throw new Error(
      `runtime process needs ${product} installed on this host; missing: ${missing.join(', ')}: install it (Debian/Ubuntu: apt-get install ${packages}) or use --runtime docker`,
    );
  }
  return found;
}
