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
  const ssh2Path = ssh2ForDockerode();
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
  return require('dockerode') as typeof Docker;
}

/** Whether the real ssh2 has been loaded (tests): the stand-in has only `Client`. */
export function ssh2Loaded(): boolean {
  const cached: unknown = require.cache[ssh2ForDockerode()]?.exports;
  return typeof cached === 'object' && cached !== null && 'utils' in cached;
}

/** The ssh2 that dockerode's docker-modem requires (resolved from where docker-modem is). */
function ssh2ForDockerode(): string {
  const modem = require.resolve('docker-modem', { paths: [path.dirname(require.resolve('dockerode'))] });
  return require.resolve('ssh2', { paths: [path.dirname(modem)] });
}
