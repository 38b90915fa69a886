/** A thin HTTP client for the native API, used by the CLI (and the benchmark). */
export class KumoApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    const envelope = (body as { error?: { code?: string; message?: string; details?: Array<{ field: string; message: string }> } } | null)?.error;
    const details = envelope?.details?.map((d) => `\n  ${d.field}: ${d.message}`).join('') ?? '';
    super(envelope?.message ? `${envelope.code ?? status}: ${envelope.message}${details}` : `HTTP ${status}`);
    this.name = 'KumoApiError';
  }
}

export class KumoClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async request<T = unknown>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const response = await fetch(new URL(path, this.baseUrl), {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    let parsed: unknown = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (!response.ok) throw new KumoApiError(response.status, parsed);
    return parsed as T;
  }
}
