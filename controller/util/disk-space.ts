import { statfs } from 'node:fs/promises';

/**
 * What a full filesystem looks like in errors from node, btrfs-progs, the database servers and their
 * clients (MariaDB and MySQL may say only that a table is full).
 */
const NO_SPACE = /ENOSPC|No space left on device|errno:? 28\b|The table .* is full/i;

/** The two notes: the error says the disk is full; or it does not, but the disk nearly is. */
const FULL = 'no space left on the filesystem holding ';
const LOW = 'little space left on the filesystem holding ';

/** Below this much free space a failure is most likely the full disk's doing. */
const LOW_BYTES = 64 * 1024 * 1024;

/**
 * When `error` came from (or happened on) a full filesystem under `dir`, says so with the fix; the
 * raw errors (a lost connection, "table is full") do not name the real cause.
 */
export async function fullDiskNote(dir: string, errorText: string): Promise<string | undefined> {
  let free: number | undefined;
  let size: number | undefined;
  try {
    const s = await statfs(dir);
    free = s.bavail * s.bsize;
    size = s.blocks * s.bsize;
  } catch {
    // unknown: rely on the text
  }
  const said = NO_SPACE.test(errorText);
  const low = free !== undefined && free < LOW_BYTES;
  if (!low && !said) return undefined;
  const figures =
    free !== undefined && size !== undefined
      ? ` (${Math.round(free / 2 ** 20)} MiB free of ${Math.round(size / 2 ** 20)} MiB)`
      : '';
  // A server that cannot write often dies with a lost connection, saying nothing of the disk.
  const cause = said ? `${FULL}${dir}${figures}` : `${LOW}${dir}${figures}, which is likely why this failed`;
  return `${cause}: free space there; this is retried with backoff, or at once on the next trigger`;
}

/** `message`, with the full-disk note in front when it applies. */
export async function explainFailure(dir: string, message: string): Promise<string> {
  if (message.startsWith(FULL) || message.startsWith(LOW)) return message; // explained already
  const note = await fullDiskNote(dir, message);
  return note ? `${note}\n${message}` : message;
}
