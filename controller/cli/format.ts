/** Human output helpers in kubectl's manner: aligned columns, short ages. */

export function table(headers: string[], rows: string[][]): string {
  const widths = columnWidths(headers, rows);
  return [tableLine(headers, widths), ...rows.map((r) => tableLine(r, widths))].join('\n');
}

/** Each column's width: its longest cell (at least `min`, to keep the rows of a watch aligned). */
export function columnWidths(headers: string[], rows: string[][], min: number[] = []): number[] {
  return headers.map((h, i) => Math.max(min[i] ?? 0, h.length, ...rows.map((r) => (r[i] ?? '').length)));
}

export function tableLine(cells: string[], widths: number[]): string {
  return cells
    .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
    .join('   ')
    .trimEnd();
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

export function shortDuration(seconds: number): string {
  const s = Math.max(0, seconds);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** An import's progress as `get templates` shows it: `42% eta 1m`, `12/40 items 30%`, or `-`. */
export function progressText(
  progress:
    | { bytesRead: number; bytesTotal: number; etaSeconds: number; itemsDone?: number; itemsTotal?: number }
    | undefined,
): string {
  if (!progress) return '-';
  const percent =
    progress.bytesTotal > 0 ? Math.min(100, Math.floor((progress.bytesRead * 100) / progress.bytesTotal)) : 0;
  const items = progress.itemsTotal ? `${progress.itemsDone ?? 0}/${progress.itemsTotal} items ` : '';
  const eta = progress.etaSeconds >= 0 ? ` eta ${shortDuration(Math.ceil(progress.etaSeconds))}` : '';
  return `${items}${percent}%${eta}`;
}
