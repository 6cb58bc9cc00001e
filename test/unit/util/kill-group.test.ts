import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { killGroup } from '../../../controller/util/kill-group.js';

describe('killGroup', () => {
  it('ends a wrapper and the pipeline it started', async () => {
    // sh waits for `sleep | cat`; killing sh alone would leave both running and the pipes open.
    const child = spawn('sh', ['-c', 'sleep 30 | cat'], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const closed = new Promise<number>((resolve) => child.once('close', () => resolve(Date.now())));
    const killedAt = Date.now();
    killGroup(child);
    child.stdin.destroy();
    // 'close' waits for stdout and stderr to close, which cat and sleep hold open while they live.
    expect((await closed) - killedAt).toBeLessThan(5000);
    // No process of the group is left (a killed one may stay a zombie for a moment, until reaped).
    const deadline = Date.now() + 3000;
    const groupAlive = () => {
      try {
        process.kill(-child.pid!, 0);
        return true;
      } catch {
        return false;
      }
    };
    while (groupAlive() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(groupAlive()).toBe(false);
  });

  it('falls back to the program itself when it has no group of its own', async () => {
    const child = spawn('sleep', ['30']);
    const closed = new Promise((resolve) => child.once('close', resolve));
    killGroup(child);
    await closed;
    expect(child.signalCode).toBe('SIGKILL');
  });
});
