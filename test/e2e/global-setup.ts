import { execFileSync } from 'node:child_process';
import path from 'node:path';

/** Child-process tests run the built CLI: build it once so they never run stale code. */
export default function setup(): void {
  const root = path.resolve(import.meta.dirname, '../..');
  execFileSync(
    process.execPath,
    [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
}
