// A KvWriter over the Cloudflare REST API (Workers KV), for deploys from a
// laptop or CI. Only the endpoints a deploy needs:
//   GET    /accounts/{a}/storage/kv/namespaces/{ns}/keys?prefix&cursor&limit   (paged list)
//   PUT    /accounts/{a}/storage/kv/namespaces/{ns}/bulk                       (≤10,000 pairs, ≤100 MB)
//   POST   /accounts/{a}/storage/kv/namespaces/{ns}/bulk/delete                (≤10,000 keys)
//   GET    /accounts/{a}/storage/kv/namespaces/{ns}/values/{key}               (404 → null)
//   PUT    /accounts/{a}/storage/kv/namespaces/{ns}/values/{key}
// Every request is retried (p-retry) with exponential backoff (Retry-After
// honoured) on 429, 5xx and network errors; other errors fail at once with the
// API's message.
import pRetry from "p-retry";
import type { KvWriter } from "./publish.ts";

export const DEFAULT_API_BASE = "https://api.cloudflare.com/client/v4";

export interface RemoteKvOptions {
  accountId: string;
  namespaceId: string;
  apiToken: string;
  /** Default https://api.cloudflare.com/client/v4, or CLOUDFLARE_API_BASE_URL. */
  apiBase?: string;
  /** Attempts per request (default 6). */
  attempts?: number;
  /** First backoff delay (default 500 ms), doubled per retry (with jitter), capped at 30 s. */
  backoffMs?: number;
  /** Bulk request limits (the API's: 10,000 pairs, 100 MB). */
  maxPairs?: number;
  maxBodyBytes?: number;
  /** Parallel single reads (default 8). */
  concurrency?: number;
  /** Called on every retry (for the deploy log); `delayMs` is the nominal wait, before jitter. */
  onRetry?: (what: string, attempt: number, reason: string, delayMs: number) => void;
  fetch?: typeof fetch;
}

export class KvApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = "KvApiError";
  }
}

/** A failure worth another attempt: 429, 5xx, or no response at all. */
class RetryableError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}

const BACKOFF_FACTOR = 2;
const MAX_BACKOFF_MS = 30_000;
/** The body limit bulk writes stay under: the API's 100 MB, less headroom. */
const MAX_BULK_BODY_BYTES = 95 * 1024 * 1024;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RemoteKv implements KvWriter {
  readonly base: string;
  private readonly o: Required<Omit<RemoteKvOptions, "onRetry" | "apiBase" | "fetch">> & Pick<RemoteKvOptions, "onRetry">;
  private readonly fetchImpl: typeof fetch;
  /** Requests made, retries included (for tests and the deploy summary). */
  requests = 0;
  retries = 0;

  constructor(opts: RemoteKvOptions) {
    const apiBase = (opts.apiBase ?? process.env.CLOUDFLARE_API_BASE_URL ?? DEFAULT_API_BASE).replace(/\/+$/, "");
    this.base = `${apiBase}/accounts/${encodeURIComponent(opts.accountId)}/storage/kv/namespaces/${encodeURIComponent(opts.namespaceId)}`;
    this.o = {
      accountId: opts.accountId,
      namespaceId: opts.namespaceId,
      apiToken: opts.apiToken,
      attempts: opts.attempts ?? 6,
      backoffMs: opts.backoffMs ?? 500,
      maxPairs: opts.maxPairs ?? 10_000,
      maxBodyBytes: opts.maxBodyBytes ?? MAX_BULK_BODY_BYTES,
      concurrency: opts.concurrency ?? 8,
      onRetry: opts.onRetry,
    };
    this.fetchImpl = opts.fetch ?? fetch;
  }

  /**
   * One API call, retried by p-retry on 429, 5xx and network errors (exponential
   * backoff with jitter; a Retry-After is waited out before the backoff).
   */
  private async request(what: string, path: string, init: RequestInit & { allow404?: boolean } = {}): Promise<Response | null> {
    let attempts = 0;
    try {
      return await pRetry(
        () => {
          attempts++;
          return this.attempt(what, path, init);
        },
        {
          retries: this.o.attempts - 1,
          factor: BACKOFF_FACTOR,
          minTimeout: this.o.backoffMs,
          maxTimeout: MAX_BACKOFF_MS,
          randomize: true,
          shouldRetry: ({ error }) => error instanceof RetryableError,
          onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
            if (!(error instanceof RetryableError) || retriesLeft === 0) return;
            this.retries++;
            const backoff = Math.min(MAX_BACKOFF_MS, this.o.backoffMs * BACKOFF_FACTOR ** (attemptNumber - 1));
            this.o.onRetry?.(what, attemptNumber, error.message, Math.round(error.retryAfterMs + backoff));
            if (error.retryAfterMs > 0) await sleep(error.retryAfterMs);
          },
        },
      );
    } catch (e) {
      if (e instanceof RetryableError) throw new KvApiError(`${what}: gave up after ${attempts} attempts (${e.message})`, e.status);
      throw e;
    }
  }

  /** One try: the response, null for an allowed 404, RetryableError for what is worth retrying. */
  private async attempt(what: string, path: string, init: RequestInit & { allow404?: boolean }): Promise<Response | null> {
    this.requests++;
    let res: Response;
    try {
      res = await this.fetchImpl(this.base + path, {
        ...init,
        headers: { Authorization: `Bearer ${this.o.apiToken}`, ...(init.headers ?? {}) },
      });
    } catch (e) {
      throw new RetryableError((e as Error).message, 0, 0);
    }
    if (res.ok) return res;
    if (res.status === 404 && init.allow404) {
      await res.arrayBuffer().catch(() => {});
      return null;
    }
    const reason = `HTTP ${res.status}${apiMessage(await res.text().catch(() => ""))}`;
    if (res.status !== 429 && res.status < 500) throw new KvApiError(`${what}: ${reason}`, res.status);
    const retryAfter = Number(res.headers.get("retry-after"));
    throw new RetryableError(reason, res.status, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 0);
  }

  async listKeys(prefix: string): Promise<Set<string>> {
    const out = new Set<string>();
    let cursor = "";
    for (;;) {
      const q = new URLSearchParams({ prefix, limit: "1000" });
      if (cursor) q.set("cursor", cursor);
      const res = (await this.request(`list ${prefix}*`, `/keys?${q}`))!;
      const body = (await res.json()) as { result?: Array<{ name: string }>; result_info?: { cursor?: string } };
      for (const k of body.result ?? []) out.add(k.name);
      cursor = body.result_info?.cursor ?? "";
      if (!cursor || !(body.result ?? []).length) break;
    }
    return out;
  }

  async putMany(entries: Array<{ key: string; value: string | ArrayBuffer }>): Promise<void> {
    let batch: string[] = [];
    let size = 2;
    const flush = async () => {
      if (!batch.length) return;
      const body = `[${batch.join(",")}]`;
      const n = batch.length;
      batch = [];
      size = 2;
      await this.request(`bulk write of ${n} values`, "/bulk", { method: "PUT", headers: { "Content-Type": "application/json" }, body });
    };
    for (const e of entries) {
      // Binary values travel base64-encoded; the API stores the decoded bytes.
      const pair = typeof e.value === "string" ? JSON.stringify({ key: e.key, value: e.value }) : JSON.stringify({ key: e.key, value: Buffer.from(e.value).toString("base64"), base64: true });
      // The limit is on the request body's bytes, and non-Latin text takes 2-4 bytes a character.
      const bytes = Buffer.byteLength(pair, "utf8");
      if (bytes + 1 > this.o.maxBodyBytes) throw new KvApiError(`value ${e.key} is too large for a bulk write`, 413);
      if (batch.length >= this.o.maxPairs || size + bytes + 1 > this.o.maxBodyBytes) await flush();
      batch.push(pair);
      size += bytes + 1;
    }
    await flush();
  }

  async get(key: string): Promise<string | null> {
    const res = await this.request(`get ${key}`, `/values/${encodeURIComponent(key)}`, { allow404: true });
    return res ? res.text() : null;
  }

  /** Parallel single reads (the REST API has no bulk text read we rely on). */
  async getMany(keys: string[]): Promise<Map<string, string | null>> {
    const out = new Map<string, string | null>();
    let next = 0;
    const worker = async () => {
      while (next < keys.length) {
        const k = keys[next++];
        out.set(k, await this.get(k));
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.o.concurrency, keys.length) }, worker));
    return out;
  }

  async put(key: string, value: string): Promise<void> {
    await this.request(`put ${key}`, `/values/${encodeURIComponent(key)}`, { method: "PUT", headers: { "Content-Type": "text/plain; charset=utf-8" }, body: value });
  }

  async delete(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += this.o.maxPairs) {
      const chunk = keys.slice(i, i + this.o.maxPairs);
      await this.request(`bulk delete of ${chunk.length} keys`, "/bulk/delete", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(chunk) });
    }
  }
}

function apiMessage(body: string): string {
  try {
    const j = JSON.parse(body) as { errors?: Array<{ code?: number; message?: string }> };
    const m = (j.errors ?? []).map((e) => `${e.code ?? ""} ${e.message ?? ""}`.trim()).join("; ");
    return m ? `: ${m}` : "";
  } catch {
    return body ? `: ${body.slice(0, 200)}` : "";
  }
}
