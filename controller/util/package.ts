import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder of myaas's package.json, found upward from this module (source or dist alike). */
export function packageRoot(from = path.dirname(fileURLToPath(import.meta.url))): string | undefined {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string };
      if (pkg.name === 'myaas') return dir;
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** The version in myaas's package.json. */
export function packageVersion(from?: string): string {
  const root = packageRoot(from);
  if (!root) return 'unknown';
  return (
    (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version?: string }).version ??
    'unknown'
  );
}
