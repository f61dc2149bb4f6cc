// A KvWriter over the Cloudflare REST API (Workers KV), for deploys from a
// laptop or CI. Only the endpoints a deploy needs:
//   GET    /accounts/{a}/storage/kv/namespaces/{ns}/keys?prefix&cursor&limit   (paged list)
//   PUT    /accounts/{a}/storage/kv/namespaces/{ns}/bulk                       (≤10,000 pairs, ≤100 MB)
//   POST   /accounts/{a}/storage/kv/namespaces/{ns}/bulk/delete                (≤10,000 keys)
//   GET    /accounts/{a}/storage/kv/namespaces/{ns}/values/{key}               (404 → null)
//   PUT    /accounts/{a}/storage/kv/namespaces/{ns}/values/{key}
// Every request is retried with exponential backoff (Retry-After honoured) on
// 429, 5xx and network errors; other errors fail at once with the API's message.
import type { KvWriter } from "../publish.ts";

export const DEFAULT_API_BASE = "https://api.cloudflare.com/client/v4";

export interface RemoteKvOptions {
  accountId: string;
  namespaceId: string;
  apiToken: string;
  /** Default https://api.cloudflare.com/client/v4, or CLOUDFLARE_API_BASE_URL. */
  apiBase?: string;
  /** Attempts per request (default 6). */
  attempts?: number;
  /** First backoff delay (default 500 ms), doubled per retry, capped at 30 s. */
  backoffMs?: number;
  /** Bulk request limits (the API's: 10,000 pairs, 100 MB). */
  maxPairs?: number;
  maxBodyBytes?: number;
  /** Parallel single reads (default 8). */
  concurrency?: number;
  /** Called on every retry (for the deploy log). */
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
      maxBodyBytes: opts.maxBodyBytes ?? 95 * 1024 * 1024,
      concurrency: opts.concurrency ?? 8,
      onRetry: opts.onRetry,
    };
    this.fetchImpl = opts.fetch ?? fetch;
  }

  private async request(what: string, path: string, init: RequestInit & { allow404?: boolean } = {}): Promise<Response | null> {
    let lastReason = "";
    for (let attempt = 1; ; attempt++) {
      this.requests++;
      let res: Response | undefined;
      try {
        res = await this.fetchImpl(this.base + path, {
          ...init,
          headers: { Authorization: `Bearer ${this.o.apiToken}`, ...(init.headers ?? {}) },
        });
      } catch (e) {
        lastReason = (e as Error).message;
      }
      if (res) {
        if (res.ok) return res;
        if (res.status === 404 && init.allow404) {
          await res.arrayBuffer().catch(() => {});
          return null;
        }
        const body = await res.text().catch(() => "");
        lastReason = `HTTP ${res.status}${apiMessage(body)}`;
        if (res.status !== 429 && res.status < 500) throw new KvApiError(`${what}: ${lastReason}`, res.status);
      }
      if (attempt >= this.o.attempts) throw new KvApiError(`${what}: gave up after ${attempt} attempts (${lastReason})`, res?.status ?? 0);
      const retryAfter = Number(res?.headers.get("retry-after"));
      const backoff = Math.min(30_000, this.o.backoffMs * 2 ** (attempt - 1)) * (0.75 + Math.random() * 0.5);
      const delay = Number.isFinite(retryAfter) && retryAfter > 0 ? Math.max(retryAfter * 1000, backoff) : backoff;
      this.retries++;
      this.o.onRetry?.(what, attempt, lastReason, Math.round(delay));
      await sleep(delay);
    }
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
      if (pair.length + 1 > this.o.maxBodyBytes) throw new KvApiError(`value ${e.key} is too large for a bulk write`, 413);
      if (batch.length >= this.o.maxPairs || size + pair.length + 1 > this.o.maxBodyBytes) await flush();
      batch.push(pair);
      size += pair.length + 1;
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
