import { afterEach, describe, expect, it, vi } from 'vitest';
import { FAULT_POINTS, parseFaultPoint } from '../../../controller/util/fault-points.js';

/** A fresh copy of the module (it reads MYAAS_FAULT_POINT once), with process.kill and stderr caught. */
async function armedWith(value: string | undefined) {
  vi.resetModules();
  vi.stubEnv('MYAAS_FAULT_POINT', value);
  const kill = vi.spyOn(process, 'kill').mockImplementation(() => true);
  const module = await import('../../../controller/util/fault-points.js');
  return { faultPoint: module.faultPoint, kill };
}

describe('fault points', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('parses name and name:N, and arms nothing for anything else', () => {
    expect(parseFaultPoint('database:after-clone')).toEqual({ name: 'database:after-clone', nth: 1 });
    expect(parseFaultPoint('template:after-seal:3')).toEqual({ name: 'template:after-seal', nth: 3 });
    expect(parseFaultPoint(undefined)).toBeUndefined();
    expect(parseFaultPoint('')).toBeUndefined();
    expect(parseFaultPoint('database:nowhere')).toBeUndefined();
    expect(parseFaultPoint('database:after-clone:0')).toBeUndefined();
  });

  it('lists the crash windows the tests stop the controller at', () => {
    expect(FAULT_POINTS).toEqual([
      'database:after-record',
      'database:after-clone',
      'database:after-server',
      'database:after-configure',
      'template:after-seal',
      'pool:after-claim-intent',
      'pool:after-claim-move',
      'trash:after-move',
    ]);
  });

  it('kills this process with SIGKILL at the named point only', async () => {
    const { faultPoint, kill } = await armedWith('database:after-clone');
    faultPoint('database:after-record');
    faultPoint('database:after-server');
    expect(kill).not.toHaveBeenCalled();
    faultPoint('database:after-clone');
    expect(kill).toHaveBeenCalledWith(process.pid, 'SIGKILL');
  });

  it('kills the N-th time the point is reached with name:N', async () => {
    const { faultPoint, kill } = await armedWith('database:after-record:3');
    faultPoint('database:after-record');
    faultPoint('database:after-clone');
    faultPoint('database:after-record');
    expect(kill).not.toHaveBeenCalled();
    faultPoint('database:after-record');
    expect(kill).toHaveBeenCalledTimes(1);
  });

  it('is a no-op when unset or unknown', async () => {
    for (const value of [undefined, 'database:nowhere', 'database:after-clone:0']) {
      const { faultPoint, kill } = await armedWith(value);
      for (const point of FAULT_POINTS) faultPoint(point);
      expect(kill, String(value)).not.toHaveBeenCalled();
      vi.restoreAllMocks();
    }
  });
});
