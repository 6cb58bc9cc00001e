import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../controller/log.js';
import type { ImportTrigger } from '../../../controller/objects/index.js';
import { ImportRunner } from '../../../controller/templates/import-runner.js';

const trigger = { reason: 'new' } as unknown as ImportTrigger;

describe('ImportRunner', () => {
  it('stop aborts the imports under way and waits for them; one asked for afterwards never runs', async () => {
    const runner = new ImportRunner(2, silentLogger);
    const ran: string[] = [];
    let finished = 0;
    runner.start(
      'a',
      'v1',
      trigger,
      (signal) =>
        new Promise<void>((resolve) => {
          ran.push('a');
          signal.addEventListener('abort', () => resolve());
        }),
      () => finished++,
    );
    await new Promise((r) => setImmediate(r));
    await runner.stop();
    expect(finished).toBe(1);
    // A reconcile still running when the controller stopped: its import must not start a server.
    runner.start(
      'b',
      'v1',
      trigger,
      async () => {
        ran.push('b');
      },
      () => finished++,
    );
    await runner.get('b')?.done;
    expect(ran).toEqual(['a']);
    expect(finished).toBe(2);
  });
});
