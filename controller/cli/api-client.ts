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

  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    raw = false,
  ): Promise<{ status: number; body: T }> {
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
    const json = (response.headers.get('content-type') ?? '').includes('json');
    try {
      if (!raw || json) parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON (metrics): keep the text
    }
    if (response.status === 401)
      throw new CliError(
        `the controller at ${this.url} wants a token${this.token ? ' and refused this one' : ''}: run \`myaas login\` or set MYAAS_TOKEN`,
      );
    return { status: response.status, body: parsed as T };
  }

  /** A text answer (a log), as it is; from 400 up a CliError with the API's message. */
  async text(path: string): Promise<string> {
    const { status, body } = await this.request<unknown>('GET', path, undefined, true);
    if (status >= 400) throw new CliError(errorText(status, body));
    return String(body ?? '');
  }

  /** Like request, but any status from 400 up becomes a CliError with the API's message. */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const { status, body: result } = await this.request<T>(method, path, body);
    if (status >= 400) throw new CliError(errorText(status, result));
    return result;
  }
}

/** The API's message for an error answer, with the problems it lists. */
function errorText(status: number, body: unknown): string {
  const detail = body as { status?: string; problems?: string[] } | undefined;
  const problems = detail?.problems ? `\n${detail.problems.join('\n')}` : '';
  return `${detail?.status ?? `HTTP ${status}`}${problems}`;
}

/** An error the CLI prints as is (no stack) before exiting 1. */
export class CliError extends Error {}
