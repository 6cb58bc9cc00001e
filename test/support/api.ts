import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { type ApiServer, createApi } from '../../controller/api/api-server.js';
import { hashToken } from '../../controller/api/auth.js';
import { silentLogger } from '../../controller/log.js';
import type { RunningController } from '../../controller/run.js';

/** A JSON call to a controller's API: status and parsed body (empty object for an empty body). */
export async function callApi(
  base: string,
  method: string,
  route: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${base}${route}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** Tokens of the team API's users: bob, a developer; val, a viewer. */
export const TEAM_TOKENS = { bob: 'bob-token-0123456789', val: 'val-token-0123456789' };

/**
 * A second API on the same controller behind a users file (written into `dir`): bob, a developer who
 * owns nothing yet, and val, a viewer. Resolves the server and its base URL.
 */
export async function startTeamApi(
  running: RunningController,
  dir: string,
): Promise<{ api: ApiServer; base: string }> {
  const users = path.join(dir, 'users.yaml');
  writeFileSync(
    users,
    `users:\n  - { name: bob, role: developer, tokenSha256: ${hashToken(TEAM_TOKENS.bob)} }\n  - { name: val, role: viewer, tokenSha256: ${hashToken(TEAM_TOKENS.val)} }\n`,
  );
  const api = createApi(running, silentLogger, undefined, users);
  return { api, base: `http://127.0.0.1:${await api.listen('127.0.0.1:0')}` };
}
