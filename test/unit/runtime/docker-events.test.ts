import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../controller/log.js';
import { DockerRuntime } from '../../../controller/runtime/docker-runtime.js';
import type { RuntimeEvent } from '../../../controller/runtime/runtime.js';
import { waitFor } from '../../support/wait.js';

/** Just enough of dockerode for the event stream: each getEvents hands out a new stream. */
function fakeDocker() {
  const streams: PassThrough[] = [];
  const docker = {
    async getEvents() {
      const stream = new PassThrough();
      streams.push(stream);
      return stream;
    },
  };
  return { docker: docker as unknown as Docker, streams };
}

const line = (action: string, owner: string) =>
  `${JSON.stringify({
    Action: action,
    time: Math.floor(Date.now() / 1000),
    Actor: { ID: `id-${owner}`, Attributes: { 'myaas.dev/kind': 'Database', 'myaas.dev/name': owner } },
  })}\n`;

describe('DockerRuntime watch', () => {
  it('survives a lost event stream: says so, connects again, says so again once events flow', async () => {
    const { docker, streams } = fakeDocker();
    const runtime = new DockerRuntime({
      docker,
      controllerId: 'c1',
      containerUser: '999',
      log: silentLogger,
    });
    const events: RuntimeEvent[] = [];
    const stop = runtime.servers.watch((event) => events.push(event));
    try {
      await waitFor('first stream', () => streams.length === 1, 2000, 5);
      streams[0]!.write(line('die', 'one'));
      await waitFor('first event', () => events.length === 1, 2000, 5);
      expect(events[0]).toEqual({ id: 'id-one', role: 'Database', owner: 'one', action: 'die' });
      // dockerd restarts: the connection drops without an end.
      streams[0]!.destroy();
      await waitFor('lost', () => events.some((e) => e.action === 'reconnect'), 2000, 5);
      await waitFor('second stream', () => streams.length === 2, 3000, 5);
      // Once the new stream is up, a second re-list is asked for (what happened while down).
      await waitFor(
        'reconnected',
        () => events.filter((e) => e.action === 'reconnect').length === 2,
        2000,
        5,
      );
      streams[1]!.write(line('start', 'two'));
      await waitFor('event after reconnect', () => events.some((e) => e.owner === 'two'), 2000, 5);
    } finally {
      stop();
      await runtime.close();
    }
  });
});
