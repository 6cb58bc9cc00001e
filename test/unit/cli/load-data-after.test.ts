import { describe, expect, it } from 'vitest';
import { loadDataAfter } from '../../../controller/cli/commands/controller.js';

describe('--import-load-data-after', () => {
  it('takes bytes from 0 up, or off', () => {
    expect(loadDataAfter('off')).toBe(-1);
    expect(loadDataAfter('0')).toBe(0);
    expect(loadDataAfter('1048576')).toBe(1048576);
  });

  it('refuses anything else, saying what it takes', () => {
    for (const bad of ['-1', '1.5', 'abc', '']) {
      expect(() => loadDataAfter(bad), bad).toThrow('expected a number of bytes from 0 up, or off');
    }
  });
});
