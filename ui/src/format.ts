/** Durations, sizes and times as people read them. */

export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function age(iso: string | undefined, now: number): string {
  if (!iso) return '';
  return `${duration((now - Date.parse(iso)) / 1000)} ago`;
}

export function bytes(n: number | undefined): string {
  if (n === undefined) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 10 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

/** Time left until `iso`, for a countdown (seconds shown, so it visibly runs); undefined without expiry. */
export function timeLeft(iso: string | undefined, now: number): string | undefined {
  if (!iso) return undefined;
  const left = Math.floor((Date.parse(iso) - now) / 1000);
  if (left <= 0) return 'expiring';
  const h = Math.floor(left / 3600);
  if (h >= 48) return duration(left);
  const mm = String(Math.floor((left % 3600) / 60)).padStart(2, '0');
  const ss = String(left % 60).padStart(2, '0');
  return h > 0 ? `${h}h ${mm}m ${ss}s` : `${mm}m ${ss}s`;
}
