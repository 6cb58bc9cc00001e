/** Docker's way of saying how long something has been up: "Less than a second", "5 minutes", "2 hours". */
export function since(start: number): string {
  const seconds = Math.max(0, Math.round((Date.now() - start) / 1000));
  if (seconds < 60) return seconds <= 1 ? 'Less than a second' : `${seconds} seconds`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return minutes === 1 ? 'About a minute' : `${minutes} minutes`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} hours` : `${Math.round(hours / 24)} days`;
}
