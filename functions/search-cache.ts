// GET /search answers cached with the Cache API. The entry's name is a SHA-256
// of (index version, the query as the tokenizer sees it (NFKC), k, the filter
// as canonical JSON, the search mode): equal requests share an entry, a new
// version misses by construction, and no query text sits in a cache key. Old
// entries age out after SEARCH_CACHE_SECONDS. A hit is not labelled to the
// public (that told anyone what others had searched in the last minute); an
// admin key sees `X-Search-Cache: hit`. The Cache API failing is a miss, never
// an error. (It is per data centre and inert on *.workers.dev: deploy on a
// custom domain to use it.)

/** Never fetched: it only names cache entries. */
const CACHE_ORIGIN = "https://search-cache.invalid";

export interface CacheKeyParts {
  version: string;
  q: string;
  k: number;
  /** The compiled filter's canonical JSON, if any. */
  filter?: string;
  /** How the query is answered; a different mode is a different answer. */
  mode?: string;
}

export async function searchCacheKey(parts: CacheKeyParts): Promise<Request> {
  const text = JSON.stringify([parts.version, parts.q.normalize("NFKC"), parts.k, parts.filter ?? null, parts.mode ?? "vector"]);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return new Request(`${CACHE_ORIGIN}/search/${hex}`);
}

export function cacheControl(seconds: number): string {
  return `public, max-age=${seconds}`;
}

/**
 * A cached answer, re-labelled with this request's own query text and filter
 * (equal filters may be spelled differently), or undefined on a miss or any
 * Cache API failure.
 */
export async function cachedAnswer(key: Request, q: string, filter: unknown, showHit: boolean): Promise<Response | undefined> {
  try {
    const hit = await caches.default.match(key);
    if (!hit) return undefined;
    const body = (await hit.json()) as { query: string; filter?: unknown };
    body.query = q;
    if (filter === undefined) delete body.filter;
    else body.filter = filter;
    const headers = new Headers(hit.headers);
    headers.delete("X-Search-Cache");
    headers.delete("Server-Timing");
    if (showHit) {
      headers.set("X-Search-Cache", "hit");
      headers.set("Server-Timing", "cache;desc=hit");
    }
    return new Response(JSON.stringify(body), { status: 200, headers });
  } catch (e) {
    console.warn(`search cache read failed, answering uncached: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}

export function storeAnswer(ctx: ExecutionContext, key: Request, response: Response): void {
  try {
    ctx.waitUntil(caches.default.put(key, response.clone()).catch(() => undefined));
  } catch {
    // A Cache API that throws synchronously is a cache that does not store.
  }
}
