import { createRequire } from 'node:module';
import path from 'node:path';
import type Docker from 'dockerode';

const require = createRequire(import.meta.url);

/**
 * dockerode, loaded when the docker runtime is chosen (the process runtime never needs it: ~23 MiB of
 * RSS), without ssh2: docker-modem requires ssh2 at load for `ssh://` hosts, which this controller does
 * not use (it talks to a unix socket), and ssh2 allocates a 16 MiB WebAssembly heap at load (~14 MiB of
 * RSS). A stand-in takes its place in `require.cache` (documented: entries may be added); it loads the
 * real ssh2 if anything ever makes an ssh client.
 */
export function loadDockerode(): typeof Docker {
  const dockerodePath = require.resolve('dockerode');
  const modemPath = require.resolve('docker-modem', { paths: [path.dirname(dockerodePath)] });
  const ssh2Path = require.resolve('ssh2', { paths: [path.dirname(modemPath)] });
  if (!require.cache[ssh2Path]) {
    const standIn = {
      Client: function Client(...args: unknown[]) {
        delete require.cache[ssh2Path];
        const real = require(ssh2Path) as { Client: new (...a: unknown[]) => object };
        return new real.Client(...args);
      },
    };
    require.cache[ssh2Path] = {
      id: ssh2Path,
      filename: ssh2Path,
      loaded: true,
      exports: standIn,
    } as unknown as NodeJS.Module;
  }
  return require(dockerodePath) as typeof Docker;
}

/** Whether the real ssh2 has been loaded (tests). */
export function ssh2Loaded(): boolean {
  const dockerodePath = require.resolve('dockerode');
  const modemPath = require.resolve('docker-modem', { paths: [path.dirname(dockerodePath)] });
  const ssh2Path = require.resolve('ssh2', { paths: [path.dirname(modemPath)] });
  const cached = require.cache[ssh2Path]?.exports as { Client?: { name?: string } } | undefined;
  return Boolean(cached && typeof cached === 'object' && 'utils' in cached);
}
