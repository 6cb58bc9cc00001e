/** The CLI's side of the API: it talks to a running controller, never to servers or files directly. */
export class ApiClient {
  constructor(
    readonly url: string,
    readonly token?: string,
  ) {}

  static fromEnv(): ApiClient {
    return new ApiClient(process.env.MYAAS_URL ?? 'http://127.0.0.1:5001', process.env.MYAAS_API_TOKEN);
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
      throw new CliError(`the controller at ${this.url} wants a token: set MYAAS_API_TOKEN`);
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
