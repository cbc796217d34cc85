import { RowcastHttpError } from './errors.js';
import type { HttpErrorBody } from './protocol.js';

/** The service's REST API: JSON in and out, the API key as a bearer token, an error status as a RowcastHttpError. */
export class Rest {
  constructor(
    private readonly base: URL,
    private readonly token: () => string | undefined,
    private readonly fetchFn: typeof fetch,
  ) {}

  /** GET `path` with `query` (and `repeated`: a parameter given several times). */
  get<T>(path: string, query: Record<string, string | number | undefined> = {}, repeated: [string, string][] = []): Promise<T> {
    const url = new URL(path, this.base);
    for (const [name, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(name, String(value));
    for (const [name, value] of repeated) url.searchParams.append(name, value);
    return this.call<T>(url, { method: 'GET' });
  }

  /** POST `body` as JSON to `path`; `signal` cancels it. */
  post<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    return this.call<T>(new URL(path, this.base), { method: 'POST', body: JSON.stringify(body), signal, headers: { 'content-type': 'application/json' } });
  }

  private async call<T>(url: URL, init: RequestInit): Promise<T> {
    const token = this.token();
    const fetchFn = this.fetchFn; // called unbound: a browser's fetch refuses another `this`
    const headers = { accept: 'application/json', ...(init.headers as Record<string, string>), ...(token && { authorization: `Bearer ${token}` }) };
    const response = await fetchFn(url, { ...init, headers });
    if (!response.ok) {
      const body: unknown = await response.json().catch(() => undefined);
      throw new RowcastHttpError(response.status, isErrorBody(body) ? body : undefined, `${response.status} ${response.statusText}`);
    }
    return (await response.json()) as T;
  }
}

function isErrorBody(body: unknown): body is HttpErrorBody {
  return typeof body === 'object' && body !== null && typeof (body as HttpErrorBody).message === 'string';
}
