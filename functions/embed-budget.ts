// The model's work per call and per request, bounded by tokens. WebAssembly
// memory only grows: one call's activations set the heap's high-water mark for
// the isolate's life. The loaded model (weights, XNNPACK's packed copies of
// the matrices, workspace) is most of that heap; calls of at most
// MODEL_CALL_TOKENS tokens add little to it, and so does a single long text,
// whatever its tokens, since the graph clips a text at its own maximum length.
// Unsplit, a call's activations grow with the batch's total length, and a batch
// of long texts would take the isolate past Workers' 128 MB
// (docs/decisions.md#the-models-memory-budget-and-the-embed-budget). A text is never split: that
// would change its embedding. Model calls never overlap (execute is
// synchronous), so concurrent requests do not add up.

/** Tokens one model call may hold (a single longer text still goes alone). */
export const MODEL_CALL_TOKENS = 64;

/** Consecutive [start, end) slices whose token counts sum to at most `budget` (one oversized text alone). */
export function chunkByTokens(counts: readonly number[], budget: number): Array<[number, number]> {
  const chunks: Array<[number, number]> = [];
  let start = 0;
  let used = 0;
  counts.forEach((n, i) => {
    if (i > start && used + n > budget) {
      chunks.push([start, i]);
      start = i;
      used = 0;
    }
    used += n;
  });
  if (counts.length > start) chunks.push([start, counts.length]);
  return chunks;
}

/**
 * Lets the event loop run: other requests' model calls and I/O. A call's result
 * arrives as a microtask, so without this a request's calls would run back to
 * back and a bystander's query would wait for a whole batch.
 */
const nextTurn = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/**
 * Embeds encoded texts in token-bounded calls, one after another, in order,
 * yielding between calls: concurrent requests take turns call by call, so a
 * short query waits for at most one call of each request ahead of it.
 */
export async function embedInChunks(
  encodings: readonly (readonly number[])[],
  run: (chunk: readonly (readonly number[])[]) => Promise<Float32Array[]>,
): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  let first = true;
  for (const [start, end] of chunkByTokens(encodings.map((e) => e.length), MODEL_CALL_TOKENS)) {
    if (!first) await nextTurn();
    first = false;
    out.push(...(await run(encodings.slice(start, end))));
  }
  return out;
}
