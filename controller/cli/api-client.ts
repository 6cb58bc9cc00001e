import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

/** Where `myaas login` keeps the token (mode 0600): $MYAAS_TOKEN_FILE, or ~/.config/myaas/token. */
export function tokenFile(): string {
  return (
    process.env.MYAAS_TOKEN_FILE ??
    path.join(process.env.XDG_CONFIG_HOME ?? path.join(homedir(), '.config'), 'myaas', 'token')
  );
}

function storedToken(): string | undefined {
  try {
    return readFileSync(tokenFile(), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The CLI's side of the API: it talks to a running controller, never to servers or files directly. */
export class ApiClient {
  constructor(
    readonly url: string,
    readonly token?: string,
  ) {}

  /** MYAAS_URL, and the token from MYAAS_TOKEN (or MYAAS_API_TOKEN), else the one `myaas login` stored. */
  static fromEnv(): ApiClient {
    const token = process.env.MYAAS_TOKEN || process.env.MYAAS_API_TOKEN || storedToken();
    return new ApiClient(process.env.MYAAS_URL ?? 'http://127.0.0.1:5001', token);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    let response: Response;
    try {
      response = await fetch(new URL(path, this.url), {
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new CliError(
        `no myaas controller answers at ${this.url} (${cause}): start one with \`myaas controller\`, or set MYAAS_URL`,
      );
    }
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON (metrics): keep the text
    }
    if (response.status === 401)
      throw new CliError(
        `the controller at ${this.url} wants a token${this.token ? ' and refused this one' : ''}: run \`myaas login\` or set MYAAS_TOKEN`,
      );
    return { status: response.status, body: parsed as T };
  }

  /** Like request, but any status from 400 up becomes a CliError with the API's message. */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const { status, body: result } = await this.request<T>(method, path, body);
    if (status >= 400) {
      const detail = result as { status?: string; problems?: string[] } | undefined;
      const problems = detail?.problems ? `\n${detail.problems.join('\n')}` : '';
      throw new CliError(`${detail?.status ?? `HTTP ${status}`}${problems}`);
    }
    return result;
  }
}

/** An error the CLI prints as is (no stack) before exiting 1. */
export class CliError extends Error {}
