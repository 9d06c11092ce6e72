/**
 * The aggregator's REST API as the CLI uses it, with errors a person can act on: an
 * unreachable aggregator, a refused token or a refused request each get one clear line.
 */
import type { RunRequest, RunSummary } from '../shared/api.js';
import type { Environment } from '../shared/environment.js';
import type { TestResult } from '../shared/result.js';

export class ApiError extends Error {
  override readonly name = 'ApiError';
}

export type RunWithResults = RunSummary & { results: TestResult[] };

export class AggregatorClient {
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly token: string | undefined,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.base}${path}`, {
        method,
        headers: {
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e));
      throw new ApiError(
        `cannot reach the aggregator at ${this.base} (${why}); is it running? For a cluster: kubectl port-forward svc/netmatrix 8080`,
      );
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new ApiError(`${method} ${path}: the aggregator answered ${res.status} with something that is not JSON`);
    }
    if (res.status === 401) throw new ApiError(`${method} ${path}: the aggregator refused the token (set --token or NETMATRIX_TOKEN)`);
    if (!res.ok) {
      const message = (json as { message?: string } | undefined)?.message ?? text.slice(0, 200);
      throw new ApiError(`${method} ${path}: ${res.status} ${message}`);
    }
    return json as T;
  }

  startRun(req: RunRequest): Promise<RunSummary> {
    return this.call('POST', '/api/runs', req);
  }

  run(id: string): Promise<RunWithResults> {
    return this.call('GET', `/api/runs/${encodeURIComponent(id)}`);
  }

  environment(): Promise<Environment> {
    return this.call('GET', '/api/environment');
  }
}
