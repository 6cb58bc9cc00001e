import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { explainFailure } from '../../../controller/util/disk-space.js';

describe('explainFailure', () => {
  it('names the full filesystem, with its figures and the fix, when the error says so', async () => {
    const message = await explainFailure(
      tmpdir(),
      "ERROR 1114 (HY000) at line 9: The table 'orders' is full",
    );
    expect(message).toMatch(
      /^no space left on the filesystem holding \/tmp \(\d+ MiB free of \d+ MiB\): free space there; this is retried/,
    );
    expect(message).toContain("The table 'orders' is full");
    // Explained once, however often it passes through.
    expect(await explainFailure(tmpdir(), message)).toBe(message);
  });

  it('leaves other errors alone while there is space', async () => {
    expect(await explainFailure(tmpdir(), 'ERROR 1064 (42000) at line 3: syntax')).toBe(
      'ERROR 1064 (42000) at line 3: syntax',
    );
  });
});
