import { describe, expect, it } from 'vitest';
import { newVersionId } from '../../../controller/layout.js';
import { WallClock } from '../../../controller/util/wall-clock.js';

describe('WallClock', () => {
  it('sees a step of the wall clock against the monotonic one and pauses expiry for a pass', () => {
    let wall = 1_000_000;
    let mono = 500;
    const steps: number[] = [];
    const clock = new WallClock({
      pauseMs: 30_000,
      wall: () => wall,
      monotonic: () => mono,
      onStep: (s) => steps.push(s),
    });
    wall += 1000;
    mono += 1000;
    expect(clock.expiryPausedFor()).toBe(0);
    // NTP steps the clock two days forward; the monotonic clock moves one second.
    wall += 2 * 86_400_000 + 1000;
    mono += 1000;
    expect(clock.expiryPausedFor()).toBe(30_000);
    expect(steps).toEqual([2 * 86_400_000]);
    mono += 29_000;
    wall += 29_000;
    expect(clock.expiryPausedFor()).toBe(1000);
    mono += 1000;
    wall += 1000;
    expect(clock.expiryPausedFor()).toBe(0);
    // A step backwards counts too.
    wall -= 3_600_000;
    expect(clock.expiryPausedFor()).toBe(30_000);
    expect(steps).toHaveLength(2);
  });
});

describe('template version ids', () => {
  it('only grow, even after the wall clock stepped back', () => {
    const first = newVersionId(new Date('2026-12-05T08:00:00Z'));
    const second = newVersionId(new Date('2026-12-05T09:00:00Z'), [first]);
    // The clock went back a day: the next id still sorts after every one before it.
    const third = newVersionId(new Date('2026-12-04T09:00:00Z'), [first, second]);
    expect([third, first, second].sort()).toEqual([first, second, third]);
    expect(third.slice(0, 16)).toBe('v20261205-090001');
  });
});
