/**
 * An engine client's invocation as one shell line, `MYSQL_PWD=... mariadb --host=...` or
 * `PGPASSWORD=... psql -h ...`: what `myaas connect --print` prints and the web UI offers to copy.
 * Secrets are URL-safe, so no quoting is needed.
 */
export function clientCommandLine(c: {
  command: string;
  args: string[];
  env: Record<string, string>;
}): string {
  return [...Object.entries(c.env).map(([k, v]) => `${k}=${v}`), c.command, ...c.args].join(' ');
}
