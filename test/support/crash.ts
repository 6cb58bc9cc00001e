import { expect } from 'vitest';
import type { FaultPointName } from '../../controller/util/fault-points.js';
import type { TestBed } from './testbed.js';

/**
 * Starts the controller with the point armed, does `act`, and waits until the point killed it: the
 * first half of every fault test (the second, a restart without the point, is each test's own).
 */
export async function crashAt(bed: TestBed, point: FaultPointName, act: () => void): Promise<void> {
  await bed.stop();
  const child = await bed.spawn(undefined, { MYAAS_FAULT_POINT: point });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const closed = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  act();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`the controller did not die at ${point} within 120 s`)),
      120_000,
    );
  });
  const { code, signal } = await Promise.race([closed, timeout]).finally(() => clearTimeout(timer));
  expect({ code, signal }, `how the controller ended at ${point}`).toEqual({ code: null, signal: 'SIGKILL' });
  expect(stderr).toContain(`myaas fault point ${point} reached: SIGKILL`);
  bed.child = undefined;
}
