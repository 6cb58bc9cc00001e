import { describe, expect, it } from 'vitest';
import { loadDockerode, ssh2Loaded } from '../../../controller/runtime/load-dockerode.js';

describe('loadDockerode', () => {
  it('gives a working dockerode without loading ssh2 (its 16 MiB WebAssembly heap)', () => {
    expect(ssh2Loaded()).toBe(false);
    const Docker = loadDockerode();
    const docker = new Docker({ socketPath: '/nonexistent.sock' });
    expect(typeof docker.listContainers).toBe('function');
    expect(ssh2Loaded()).toBe(false);
  });

  it('an ssh client asked for through the stand-in is the real one, loaded then', async () => {
    loadDockerode();
    const { createRequire } = await import('node:module');
    const require = createRequire(import.meta.url);
    const modem = require.resolve('docker-modem', { paths: [require.resolve('dockerode')] });
    const standIn = require(require.resolve('ssh2', { paths: [modem] })) as {
      Client: new () => { connect: unknown; end: () => void };
    };
    const client = new standIn.Client();
    expect(typeof client.connect).toBe('function');
    expect(ssh2Loaded()).toBe(true);
    client.end();
  });
});
