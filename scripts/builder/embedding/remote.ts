// Embedding on a deployed Worker's /embed: the same model the queries get, run
// by as many isolates as the platform gives the requests. One RemoteEmbedder
// speaks to one or more base URLs; a request is one batch of texts, retried
// (p-retry, exponential backoff with jitter) on 429, 5xx and network errors,
// with a Retry-After honoured for every request to that URL, not only the one
// that got it. Anything else (401, 403, a 400 other than a size limit, a reply
// that is not the vectors asked for) stops the build with what went wrong.
import pRetry from "p-retry";
import { EMBEDDING_DIM } from "../../../lib/model/embed.ts";

export interface RemoteOptions {
  /** Base URLs of deployed Workers (`https://x.workers.dev`); `/embed` is added unless the path ends in it. */
  urls: readonly string[];
  /** Sent as `Authorization: Bearer <token>` (the Worker's EMBED_TOKEN). */
  token?: string;
  /** Requests in flight at once, over all URLs. */
  concurrency?: number;
  /** Texts per request (the Worker's MAX_EMBED_TEXTS is the most it takes). */
  batchSize?: number;
  /** Attempts per request that 5xx and network errors may use up; 429s do not count. */
  attempts?: number;
  /** First backoff delay, doubled per retry (with jitter), capped at MAX_BACKOFF_MS. */
  backoffMs?: number;
  /** Longest a single request keeps retrying, 429s included, before the build gives up. */
  maxRetryMs?: number;
  /** One attempt's limit: a reply that takes longer counts as a network error. */
  timeoutMs?: number;
  /** Called on every retry, for the build log. */
  onRetry?: (r: RetryInfo) => void;
  fetch?: typeof fetch;
}

export interface RetryInfo {
  url: string;
  attempt: number;
  reason: string;
  /** How long this retry waits before it goes again (Retry-After or backoff), before jitter. */
  waitMs: number;
}

export const REMOTE_DEFAULTS = {
  concurrency: 8,
  batchSize: 32,
  attempts: 8,
  backoffMs: 500,
  maxRetryMs: 10 * 60_000,
  timeoutMs: 60_000,
} as const;
const MAX_BACKOFF_MS = 30_000;
const BACKOFF_FACTOR = 2;

/** The remote replied in a way a retry cannot fix; `code` says which (the CLI prints the message). */
export class RemoteEmbedError extends Error {
  constructor(
    readonly code: "unauthorized" | "refused" | "bad_reply" | "model_mismatch" | "vectors_mismatch" | "gave_up",
    message: string,
    readonly url: string,
  ) {
    super(message);
    this.name = "RemoteEmbedError";
  }
}

/** A 400/413 that a smaller request avoids: the caller splits the batch, or embeds one text locally. */
export class TooLargeError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Worth another attempt: 429, 5xx, no reply, a reply cut short. */
class RetryableError extends Error {
  constructor(
    message: string,
    readonly rateLimited: boolean,
  ) {
    super(message);
  }
}

/** The Worker's error envelope codes that a smaller request avoids (functions/validate.ts, routes.ts). */
const SIZE_CODES = new Set(["batch_too_large", "too_many_tokens", "query_too_long", "body_too_large"]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retry-After as seconds or an HTTP date, in ms from now; 0 when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number {
  if (!value) return 0;
  const s = Number(value.trim());
  if (value.trim() !== "" && Number.isFinite(s)) return Math.max(0, s * 1000);
  const t = Date.parse(value);
  return Number.isFinite(t) ? Math.max(0, t - now) : 0;
}

export function embedEndpoint(base: string): string {
  let u: URL;
  try {
    u = new URL(base);
  } catch {
    throw new RemoteEmbedError("refused", `--embed-url ${base} is not a URL`, base);
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") throw new RemoteEmbedError("refused", `--embed-url ${base} must be http(s)`, base);
  // A Worker's origin (or its /v1) means its versioned embedding route; a full path is taken as given.
  if (!/\/embed\/?$/.test(u.pathname)) u.pathname = u.pathname.replace(/\/+$/, "").replace(/\/v1$/, "") + "/v1/embed";
  return u.toString();
}

/** What one URL did, for the build report. */
export interface RemoteStats {
  url: string;
  requests: number;
  texts: number;
  rateLimited: number;
  serverErrors: number;
  networkErrors: number;
  /** Requests the Worker found too large (batch, token or body limit): split, or a text embedded locally. */
  tooLarge: number;
  /** The Worker's own embedding time (Server-Timing `embed`), summed; 0 when it sends none. */
  embedMs: number;
}

class Remote {
  readonly stats: RemoteStats;
  inFlight = 0;
  /** Set by a 429's Retry-After: no request to this URL goes out before it. */
  pausedUntil = 0;
  constructor(readonly endpoint: string) {
    this.stats = { url: endpoint, requests: 0, texts: 0, rateLimited: 0, serverErrors: 0, networkErrors: 0, tooLarge: 0, embedMs: 0 };
  }
}

export class RemoteEmbedder {
  readonly remotes: Remote[];
  readonly o: Required<Omit<RemoteOptions, "token" | "onRetry" | "fetch" | "urls">> & Pick<RemoteOptions, "token" | "onRetry">;
  private readonly fetchImpl: typeof fetch;
  private next = 0;

  /** `modelId`: the model this build embeds with; a reply naming another is refused. */
  constructor(
    opts: RemoteOptions,
    readonly modelId: string,
  ) {
    if (opts.urls.length === 0) throw new RemoteEmbedError("refused", "no --embed-url given", "");
    this.remotes = opts.urls.map((u) => new Remote(embedEndpoint(u)));
    this.o = {
      concurrency: opts.concurrency ?? REMOTE_DEFAULTS.concurrency,
      batchSize: opts.batchSize ?? REMOTE_DEFAULTS.batchSize,
      attempts: opts.attempts ?? REMOTE_DEFAULTS.attempts,
      backoffMs: opts.backoffMs ?? REMOTE_DEFAULTS.backoffMs,
      maxRetryMs: opts.maxRetryMs ?? REMOTE_DEFAULTS.maxRetryMs,
      timeoutMs: opts.timeoutMs ?? REMOTE_DEFAULTS.timeoutMs,
      token: opts.token,
      onRetry: opts.onRetry,
    };
    this.fetchImpl = opts.fetch ?? fetch;
  }

  get stats(): RemoteStats[] {
    return this.remotes.map((r) => ({ ...r.stats }));
  }

  /** The least busy URL, in turn among equals, so N requests spread over every URL. */
  private pick(): Remote {
    let best = this.remotes[this.next % this.remotes.length];
    for (let i = 1; i < this.remotes.length; i++) {
      const r = this.remotes[(this.next + i) % this.remotes.length];
      if (r.inFlight < best.inFlight) best = r;
    }
    this.next++;
    return best;
  }

  /** Embeds `texts` in one request on one URL (`on` fixes which), retried; unit vectors in input order. */
  async embed(texts: readonly string[], on?: number): Promise<Float32Array[]> {
    const remote = on === undefined ? this.pick() : this.remotes[on];
    remote.inFlight++;
    const started = performance.now();
    let attempts = 0;
    try {
      return await pRetry(
        () => {
          attempts++;
          return this.attempt(remote, texts);
        },
        {
          retries: this.o.attempts - 1,
          factor: BACKOFF_FACTOR,
          minTimeout: this.o.backoffMs,
          maxTimeout: MAX_BACKOFF_MS,
          randomize: true,
          maxRetryTime: this.o.maxRetryMs,
          // A rate limit is the remote pacing us, not a fault: it does not use up the attempts.
          shouldConsumeRetry: ({ error }) => !(error instanceof RetryableError && error.rateLimited),
          shouldRetry: ({ error }) => error instanceof RetryableError && performance.now() - started < this.o.maxRetryMs,
          onFailedAttempt: ({ error, attemptNumber, retriesConsumed }) => {
            if (!(error instanceof RetryableError)) return;
            const backoff = Math.min(MAX_BACKOFF_MS, this.o.backoffMs * BACKOFF_FACTOR ** retriesConsumed);
            this.o.onRetry?.({ url: remote.endpoint, attempt: attemptNumber, reason: error.message, waitMs: Math.max(0, remote.pausedUntil - Date.now()) + backoff });
          },
        },
      );
    } catch (e) {
      if (e instanceof RetryableError) {
        throw new RemoteEmbedError("gave_up", `${remote.endpoint}: gave up after ${attempts} attempt(s) in ${((performance.now() - started) / 1000).toFixed(0)} s (last: ${e.message})`, remote.endpoint);
      }
      throw e;
    } finally {
      remote.inFlight--;
    }
  }

  /**
   * Embeds `texts`, halving a request the Worker finds too large (its batch,
   * token or body limit) until it fits; a single text it still refuses comes
   * back as null, for the caller to embed locally.
   */
  async embedFitting(texts: readonly string[], on?: number): Promise<Array<Float32Array | null>> {
    try {
      return await this.embed(texts, on);
    } catch (e) {
      if (!(e instanceof TooLargeError)) throw e;
      if (texts.length === 1) return [null];
      const half = texts.length >> 1;
      return [...(await this.embedFitting(texts.slice(0, half), on)), ...(await this.embedFitting(texts.slice(half), on))];
    }
  }

  private async attempt(remote: Remote, texts: readonly string[]): Promise<Float32Array[]> {
    const wait = remote.pausedUntil - Date.now();
    if (wait > 0) await sleep(wait);
    remote.stats.requests++;
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (this.o.token) headers.Authorization = `Bearer ${this.o.token}`;
    let res: Response;
    let text: string;
    const t0 = performance.now();
    try {
      res = await this.fetchImpl(remote.endpoint, { method: "POST", headers, body: JSON.stringify({ texts }), signal: AbortSignal.timeout(this.o.timeoutMs) });
      // The body is read inside the try: a connection dropped mid-reply is a network error too.
      text = await res.text();
    } catch (e) {
      remote.stats.networkErrors++;
      const err = e as Error & { cause?: { code?: string; message?: string } };
      const what = [err.cause?.code, err.cause?.message ?? err.message].filter(Boolean).join(" ");
      throw new RetryableError(`network error after ${Math.round(performance.now() - t0)} ms: ${what}`, false);
    }
    if (res.status === 429) {
      remote.stats.rateLimited++;
      const ms = retryAfterMs(res.headers.get("retry-after"));
      remote.pausedUntil = Math.max(remote.pausedUntil, Date.now() + ms);
      throw new RetryableError(`HTTP 429${envelopeMessage(text)}${ms ? `, Retry-After ${Math.round(ms / 1000)} s` : ""}`, true);
    }
    if (res.status === 503 && envelopeCode(text) === "misconfigured") {
      // The Worker's own configuration is broken (issue 24's keyed limits): no retry fixes that.
      throw new RemoteEmbedError("refused", `${remote.endpoint}: HTTP 503${envelopeMessage(text)}`, remote.endpoint);
    }
    if (res.status >= 500) {
      remote.stats.serverErrors++;
      throw new RetryableError(`HTTP ${res.status}${envelopeMessage(text)}`, false);
    }
    if ((res.status === 401 || res.status === 403) && envelopeCode(text) !== "embed_disabled") {
      const hint = this.o.token ? "check --embed-token" : "this Worker needs --embed-token";
      throw new RemoteEmbedError("unauthorized", `${remote.endpoint} refused the request (HTTP ${res.status}${envelopeMessage(text)}): ${hint}`, remote.endpoint);
    }
    if (res.status === 400 || res.status === 413) {
      const code = envelopeCode(text);
      if (code && SIZE_CODES.has(code)) {
        remote.stats.tooLarge++;
        throw new TooLargeError(code, `HTTP ${res.status}${envelopeMessage(text)}`);
      }
    }
    if (!res.ok) {
      const hint = res.status === 404 ? " (is this the search Worker's URL?)" : "";
      throw new RemoteEmbedError("refused", `${remote.endpoint}: HTTP ${res.status}${envelopeMessage(text)}${hint}`, remote.endpoint);
    }
    const vectors = this.readReply(remote, text, texts.length);
    remote.stats.texts += texts.length;
    remote.stats.embedMs += serverTimingMs(res.headers.get("server-timing"), "embed");
    return vectors;
  }

  /** The reply must be this model's unit vectors, one per text; a truncated one is retried. */
  private readReply(remote: Remote, text: string, n: number): Float32Array[] {
    let body: { model?: unknown; dim?: unknown; vectors?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      remote.stats.networkErrors++;
      throw new RetryableError(`reply is not JSON (${text.length} bytes; cut short?)`, false);
    }
    const bad = (why: string) => new RemoteEmbedError("bad_reply", `${remote.endpoint}: ${why}; is this URL the search Worker's?`, remote.endpoint);
    if (body.model !== this.modelId) {
      throw new RemoteEmbedError("model_mismatch", `${remote.endpoint} embeds with model ${JSON.stringify(body.model)}, this build with ${this.modelId}: deploy this build's index (or the model) there first`, remote.endpoint);
    }
    if (body.dim !== EMBEDDING_DIM || !Array.isArray(body.vectors)) throw bad(`reply has no ${EMBEDDING_DIM}-dimensional "vectors"`);
    if (body.vectors.length !== n) throw bad(`${n} texts sent, ${body.vectors.length} vectors back`);
    return body.vectors.map((v: unknown, i) => {
      if (!Array.isArray(v) || v.length !== EMBEDDING_DIM) throw bad(`vector ${i} is not ${EMBEDDING_DIM} numbers`);
      const out = Float32Array.from(v as number[]);
      let sq = 0;
      for (const x of out) sq += x * x;
      // NaN fails this too.
      if (!(Math.abs(Math.sqrt(sq) - 1) < 1e-3)) throw bad(`vector ${i} is not unit length`);
      return out;
    });
  }
}

function envelope(text: string): { code?: string; message?: string } {
  try {
    const b = JSON.parse(text) as { error?: { code?: string; message?: string } };
    return b?.error ?? {};
  } catch {
    return {};
  }
}

function envelopeCode(text: string): string | undefined {
  return envelope(text).code;
}

function envelopeMessage(text: string): string {
  const e = envelope(text);
  return e.code ? ` ${e.code}: ${e.message ?? ""}` : "";
}

/** `dur` of one metric of a Server-Timing header, in ms; 0 when absent. */
export function serverTimingMs(header: string | null, name: string): number {
  for (const part of (header ?? "").split(",")) {
    const [metric, ...params] = part.trim().split(";");
    if (metric.trim() !== name) continue;
    for (const p of params) {
      const m = /^\s*dur=([\d.]+)\s*$/.exec(p);
      if (m) return Number(m[1]);
    }
  }
  return 0;
}

/** Cosine of two vectors (not assumed unit length). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}
