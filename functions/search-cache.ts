// GET /search answers cached with the Cache API, keyed by index version, the
// query as the tokenizer sees it (NFKC, which it applies first), k and the
// filter (canonical JSON, so equal filters share an entry): a repeated
// query costs one cache read, no embedding and no KV. A new version misses by
// construction; old entries age out after SEARCH_CACHE_SECONDS. (The Cache API
// is per data centre and inert on *.workers.dev: deploy on a custom domain to use it.)

/** Never fetched: it only names cache entries. */
const CACHE_ORIGIN = "https://search-cache.invalid";

export function searchCacheKey(version: string, q: string, k: number, filter?: string): Request {
  const params = new URLSearchParams({ v: version, k: String(k), q: q.normalize("NFKC"), ...(filter ? { f: filter } : {}) });
  return new Request(`${CACHE_ORIGIN}/search?${params}`);
}

export function cacheControl(seconds: number): string {
  return `public, max-age=${seconds}`;
}

/** A cached answer, re-labelled with this request's own query text. */
export async function cachedAnswer(key: Request, q: string): Promise<Response | undefined> {
  const hit = await caches.default.match(key);
  if (!hit) return undefined;
  const body = (await hit.json()) as { query: string };
  body.query = q;
  const headers = new Headers(hit.headers);
  headers.set("X-Search-Cache", "hit");
  headers.set("Server-Timing", "cache;desc=hit");
  return new Response(JSON.stringify(body), { status: 200, headers });
}

export function storeAnswer(ctx: ExecutionContext, key: Request, response: Response): void {
  ctx.waitUntil(caches.default.put(key, response.clone()).catch(() => undefined));
}
