import { readFileSync, writeFileSync } from 'node:fs';

/** CPU and memory of one process from /proc (Linux): what the controller costs while a benchmark runs. */

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** User + system CPU seconds used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces), 1-based numbering as in proc(5).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : 0;
}

export const rssMiB = (pid: number) => statusKiB(pid, 'VmRSS') / 1024;
export const peakRssMiB = (pid: number) => statusKiB(pid, 'VmHWM') / 1024;

/** Resets the peak RSS (VmHWM) to the current RSS, so a peak can be measured over one phase. */
export function resetPeakRss(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}
