/** Human output helpers in kubectl's manner: aligned columns, short ages. */

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** `45s`, `12m`, `3h`, `2d`, like kubectl's AGE column. */
export function age(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '<none>';
  const seconds = Math.round((now - Date.parse(iso)) / 1000);
  return shortDuration(seconds);
}

/** Time until `iso`, or `expired`. */
export function until(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '<never>';
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  return seconds <= 0 ? 'expired' : shortDuration(seconds);
}

function shortDuration(seconds: number): string {
  const s = Math.max(0, seconds);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}
