import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '../../..');

/**
 * The packages a module loads at start: its static imports (not `import type`, not `await import()`),
 * followed through the project's own files.
 */
function staticPackages(entry: string): Set<string> {
  const packages = new Set<string>();
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(
      /^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm,
    )) {
      const spec = match[1]!;
      if (spec.startsWith('.')) visit(path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')));
      else packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    }
  };
  visit(path.join(root, entry));
  return packages;
}

describe('what loads at start', () => {
  // @kubernetes/client-node alone is ~70 MiB of RSS and a slower start: only Kubernetes mode and the
  // node agent load it, when they start.
  it('the CLI and the file-mode controller do not load the Kubernetes client', () => {
    expect(staticPackages('controller/cli/program.ts')).not.toContain('@kubernetes/client-node');
    expect(staticPackages('controller/run.ts')).not.toContain('@kubernetes/client-node');
  });

  // dockerode (~23 MiB of RSS) only with the docker runtime, through loadDockerode (without ssh2).
  it('the controller loads dockerode only when the docker runtime is chosen', () => {
    expect(staticPackages('controller/cli/program.ts')).not.toContain('dockerode');
    expect(staticPackages('controller/run.ts')).not.toContain('dockerode');
  });

  it('the walk does see it where it is loaded', () => {
    expect(staticPackages('controller/run-kubernetes.ts')).toContain('@kubernetes/client-node');
    expect(staticPackages('controller/cli/program.ts')).toContain('commander');
  });
});
