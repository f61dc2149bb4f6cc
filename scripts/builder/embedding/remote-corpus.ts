// The embedding stage on a deployed Worker fleet (`npm run build -- --embed-url`).
// Same contract as embedCorpus: every distinct text once, cache first. Then:
//   1. a sample of the texts is embedded here and by every remote, and a remote
//      whose vectors differ (any cosine below MIN_COSINE: another model, another
//      version of it) is refused before anything it sends is kept;
//   2. the rest goes out in batches, N requests in flight, and each batch is
//      appended to the cache as soon as it is back, so a killed build resumes
//      where it stopped and re-embeds nothing it had;
//   3. a text the remote cannot take (longer than its limit) is embedded here.
import { Progress } from "../../common/progress.ts";
import type { EmbeddingCache } from "./cache.ts";
import { fromCache, type Embedded } from "./embed-corpus.ts";
import type { EmbeddingPool } from "../pools/embed-pool.ts";
import { cosine, RemoteEmbedder, RemoteEmbedError, type RemoteStats } from "./remote.ts";

/** A remote's vector may differ from ours by float noise, not by a model: the issue's bar. */
export const MIN_COSINE = 0.9999;
/** Texts each remote embeds for the check (one request), spread over the length range. */
export const CHECK_SAMPLE = 32;
/** Longer texts (code points) are embedded here: the Worker's default MAX_QUERY_CHARS refuses them. */
export const REMOTE_MAX_CHARS = 1000;

export interface RemoteEmbedded extends Embedded {
  remote: {
    urls: string[];
    /** Texts the remotes embedded in this run (the check's sample not included). */
    embedded: number;
    /** Texts embedded here instead: the check's sample, and texts too long for the remote. */
    local: number;
    /** Lowest cosine of the check, per URL. */
    checkMinCosine: number[];
    stats: RemoteStats[];
  };
}

/** Up to `n` indices of `texts`, spread evenly over them ordered by length (short and long both checked). */
export function checkSample(texts: readonly string[], n = CHECK_SAMPLE): number[] {
  const order = texts.map((_, i) => i).sort((a, b) => texts[a].length - texts[b].length || a - b);
  if (order.length <= n) return order;
  return Array.from({ length: n }, (_, j) => order[Math.round((j * (order.length - 1)) / (n - 1))]);
}

/**
 * Embeds `texts` here and on every remote and refuses the first remote whose
 * vector for any text has a cosine below MIN_COSINE with ours. Returns our
 * vectors (they are as good as any) and the lowest cosine per remote.
 */
export async function checkRemotes(remote: RemoteEmbedder, pool: EmbeddingPool, texts: readonly string[]): Promise<{ local: Float32Array[]; minCosine: number[] }> {
  const local = await pool.embed(texts);
  const minCosine: number[] = [];
  for (let r = 0; r < remote.remotes.length; r++) {
    const got = await remote.embedFitting(texts, r);
    if (got.every((v) => v === null)) throw new RemoteEmbedError("refused", `${remote.remotes[r].endpoint} refused every text of the check as too large`, remote.remotes[r].endpoint);
    let worst = 1;
    let at = 0;
    got.forEach((v, i) => {
      if (v === null) return;
      const c = cosine(v, local[i]);
      // NaN counts as a mismatch.
      if (!(c >= worst)) {
        worst = c;
        at = i;
      }
    });
    if (!(worst >= MIN_COSINE)) {
      throw new RemoteEmbedError(
        "vectors_mismatch",
        `${remote.remotes[r].endpoint} does not embed like this build: cosine ${worst.toFixed(6)} < ${MIN_COSINE} with the local vector of ${JSON.stringify(texts[at].slice(0, 80))} (another model or model version behind the same id?); nothing it sent was kept`,
        remote.remotes[r].endpoint,
      );
    }
    minCosine.push(worst);
  }
  return { local, minCosine };
}


/**
 * Writes vectors into their rows and appends them to the cache. Appends are
 * chained, so batches finishing together never interleave their writes (each
 * is one append of whole rows); `settled()` waits for every one so far.
 */
function cacheWriter(vectors: Float32Array, dim: number, cache: EmbeddingCache | null, missing: ReadonlyArray<[string, number[]]>) {
  let writes: Promise<void> = Promise.resolve();
  const keep = (ids: readonly number[], vs: readonly Float32Array[]): Promise<void> => {
    ids.forEach((i, j) => vectors.set(vs[j], missing[i][1][0] * dim));
    if (!cache) return writes;
    const batch = ids.map((i, j) => ({ hash: missing[i][0], vector: vs[j] }));
    writes = writes.then(() => cache.append(batch));
    return writes;
  };
  return { keep, settled: () => writes };
}

export async function embedCorpusRemote(
  items: ReadonlyArray<{ text: string }>,
  dim: number,
  cache: EmbeddingCache | null,
  pool: EmbeddingPool,
  remote: RemoteEmbedder,
  log: (s: string) => void,
  quiet = false,
): Promise<RemoteEmbedded> {
  const { vectors, distinct, missing, cachedRows, texts } = await fromCache(items, dim, cache);
  const urls = remote.remotes.map((r) => r.endpoint);
  const result = (seconds: number, embedded: number, local: number, checkMinCosine: number[]): RemoteEmbedded => ({
    vectors,
    computed: missing.length,
    cached: cachedRows,
    seconds,
    remote: { urls, embedded, local, checkMinCosine, stats: remote.stats },
  });
  if (missing.length === 0) {
    log(`all ${items.length} embeddings from cache; no remote needed`);
    return result(0, 0, 0, []);
  }
  const writer = cacheWriter(vectors, dim, cache, missing);
  const t0 = performance.now();
  const check = await checkStep(remote, pool, texts, writer.keep, log);
  const tooLong = check.todo.filter((i) => codePoints(texts[i]) > REMOTE_MAX_CHARS);
  const long = new Set(tooLong);
  // Similar lengths together: the Worker pads a model call to its longest text.
  const queue = check.todo.filter((i) => !long.has(i)).sort((a, b) => texts[a].length - texts[b].length);
  log(`embedding ${queue.length} text(s) on ${urls.length} remote(s), ${remote.o.concurrency} request(s) of ≤ ${remote.o.batchSize} in flight; ${cachedRows} from cache${tooLong.length ? `; ${tooLong.length} longer than ${REMOTE_MAX_CHARS} characters here` : ""}`);
  const progress = new Progress("embed (remote)", queue.length);
  let embeddedRemotely = 0;
  let refused: number[];
  try {
    const onBatch = (ids: number[], vs: Float32Array[]) => ((embeddedRemotely += ids.length), writer.keep(ids, vs));
    refused = (await embedBatches(remote, texts, queue, { onBatch, onProgress: (d) => !quiet && progress.update(d) })).refused;
  } catch (e) {
    await writer.settled();
    const kept = distinct - missing.length + check.sampled + embeddedRemotely;
    if (cache) (e as Error).message += ` (${kept} of ${distinct} distinct texts are embedded in the cache; run the build again to resume)`;
    throw e;
  }
  const localOnly = [...tooLong, ...refused];
  if (localOnly.length) {
    log(`embedding ${localOnly.length} text(s) here that the remote would not take`);
    await writer.keep(localOnly, await pool.embed(localOnly.map((i) => texts[i])));
  }
  await writer.settled();
  // Repeated texts share the one embedding.
  for (const [, rows] of missing) for (const r of rows.slice(1)) vectors.copyWithin(r * dim, rows[0] * dim, (rows[0] + 1) * dim);
  return result((performance.now() - t0) / 1000, embeddedRemotely, check.sampled + localOnly.length, check.minCosine);
}

/** The check on a sample of `texts` (kept, as embedded here); returns the indices still to embed. */
async function checkStep(
  remote: RemoteEmbedder,
  pool: EmbeddingPool,
  texts: readonly string[],
  keep: (ids: readonly number[], vs: readonly Float32Array[]) => Promise<void>,
  log: (s: string) => void,
): Promise<{ todo: number[]; sampled: number; minCosine: number[] }> {
  const urls = remote.remotes.map((r) => r.endpoint);
  await pool.warmUp();
  const fits = texts.map((t, i) => (codePoints(t) > REMOTE_MAX_CHARS ? -1 : i)).filter((i) => i >= 0);
  if (fits.length === 0) throw new RemoteEmbedError("refused", `every text to embed is longer than the ${REMOTE_MAX_CHARS} characters a Worker takes; build without --embed-url`, urls[0]);
  const sample = checkSample(fits.map((i) => texts[i])).map((j) => fits[j]);
  log(`checking ${urls.length} remote(s) against ${sample.length} texts embedded here (cosine ≥ ${MIN_COSINE})`);
  const check = await checkRemotes(
    remote,
    pool,
    sample.map((i) => texts[i]),
  );
  log(`remote check passed: lowest cosine ${check.minCosine.map((c) => c.toFixed(6)).join(", ")}`);
  await keep(sample, check.local);
  const sampled = new Set(sample);
  return { todo: texts.map((_, i) => i).filter((i) => !sampled.has(i)), sampled: sample.length, minCosine: check.minCosine };
}

/**
 * Sends `ids` of `texts` to the remotes in batches of its batchSize, its
 * concurrency at a time, in the order given. `onBatch` gets each batch's
 * vectors as it comes back (what it returns is awaited before that request
 * slot takes the next batch). Texts a remote refuses even alone are returned,
 * for the caller to embed locally. The first batch that fails stops the rest
 * from being sent and rejects once those in flight have settled.
 */
export async function embedBatches(
  remote: RemoteEmbedder,
  texts: readonly string[],
  ids: readonly number[],
  o: { onBatch: (ids: number[], vectors: Float32Array[]) => void | Promise<void>; onProgress?: (done: number) => void },
): Promise<{ refused: number[] }> {
  const size = remote.o.batchSize;
  const batches: number[][] = [];
  for (let s = 0; s < ids.length; s += size) batches.push(ids.slice(s, s + size));
  const refused: number[] = [];
  let next = 0;
  let done = 0;
  let failed = false;
  const drive = async () => {
    while (!failed && next < batches.length) {
      const batch = batches[next++];
      try {
        const vs = await remote.embedFitting(batch.map((i) => texts[i]));
        batch.forEach((id, j) => vs[j] === null && refused.push(id));
        await o.onBatch(
          batch.filter((_, j) => vs[j] !== null),
          vs.filter((v): v is Float32Array => v !== null),
        );
      } catch (e) {
        failed = true;
        throw e;
      }
      done += batch.length;
      o.onProgress?.(done);
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.min(remote.o.concurrency, batches.length) }, drive));
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failure) throw failure.reason;
  return { refused };
}

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}
