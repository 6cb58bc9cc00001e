import type { Transport, WebhookRequest } from './delivery-queue.js';

/**
 * POSTs with Node's fetch (undici), bounded by the endpoint's timeout. Redirects are not followed: a
 * POST turned into a GET elsewhere is no delivery, and the status says to configure the final URL.
 */
export class HttpTransport implements Transport {
  async post(request: WebhookRequest, timeoutMs: number, signal: AbortSignal): Promise<number> {
    const response = await fetch(request.url, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
      redirect: 'manual',
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
    });
    // The answer's body is not read: dropping it frees the connection.
    await response.body?.cancel().catch(() => undefined);
    return response.status;
  }
}
