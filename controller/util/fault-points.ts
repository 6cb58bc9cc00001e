import { writeSync } from 'node:fs';

/**
 * Named crash windows, for the fault-injection tests: `MYAAS_FAULT_POINT=<name>` (or `<name>:<N>`, the
 * N-th time the point is reached) makes the controller kill itself there, as `kill -9` would: no
 * cleanup, no flush, nothing after it runs. Unset, a point costs one comparison.
 */
export const FAULT_POINTS = [
  /** The record with the new credentials is saved; the clone is not made yet. */
  'database:after-record',
  /** The clone is made; no server is created for it yet. */
  'database:after-clone',
  /** The server is created and takes logins; the first-start SQL (own credentials) has not run. */
  'database:after-server',
  /** The first-start SQL ran; status is not saved Ready yet. */
  'database:after-configure',
  /** The import's work volume is sealed as a version; its metadata is not written yet. */
  'template:after-seal',
  /** A claim of a warm pool member is saved in the database's record; the member's clone has not moved. */
  'pool:after-claim-intent',
  /** The member's clone moved to databases/<name>; its record is not removed, the claim not cleared. */
  'pool:after-claim-move',
  /** Reserved: a database's clone moved to the trash, before the rest of the removal (no trash yet). */
  'trash:after-move',
] as const;

export type FaultPointName = (typeof FAULT_POINTS)[number];

interface Armed {
  readonly name: string;
  /** Fires when the point is reached this many times (1: the first time). */
  readonly nth: number;
}

/** Parses `name` or `name:N` (N >= 1). Anything else arms nothing, and says so once on stderr. */
export function parseFaultPoint(value: string | undefined): Armed | undefined {
  if (!value) return undefined;
  const match = /^([a-z-]+:[a-z-]+)(?::(\d+))?$/.exec(value.trim());
  const nth = match?.[2] === undefined ? 1 : Number(match[2]);
  if (!match || !(FAULT_POINTS as readonly string[]).includes(match[1]!) || nth < 1) {
    writeSync(2, `MYAAS_FAULT_POINT=${value}: not a fault point (name or name:N, N >= 1); ignored\n`);
    return undefined;
  }
  return { name: match[1]!, nth };
}

let armed: Armed | undefined | null = null;
let reached = 0;

/** Kills this process at once when MYAAS_FAULT_POINT names this point (and this is the N-th time). */
export function faultPoint(name: FaultPointName): void {
  if (armed === null) armed = parseFaultPoint(process.env.MYAAS_FAULT_POINT);
  if (armed === undefined || armed.name !== name) return;
  reached++;
  if (reached !== armed.nth) return;
  writeSync(2, `myaas fault point ${name}${armed.nth > 1 ? `:${armed.nth}` : ''} reached: SIGKILL\n`);
  process.kill(process.pid, 'SIGKILL');
}
