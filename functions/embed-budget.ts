// The model's work per call and per request, bounded by tokens. WebAssembly
// memory only grows: one call's activations set the heap's high-water mark for
// the isolate's life. Measured in workerd (USE-lite f16, idle heap 52.9 MiB; a
// 1,000-character English text is ~180 tokens): 4 such texts in one call left it
// at 63.5 MiB, 5 or 8 at 76.3 MiB, 32 at 136.9 MiB (over the 128 MB isolate
// limit). Calls of at most MODEL_CALL_TOKENS tokens keep it at 63.5 MiB whatever the request, and
// model calls never overlap (execute is synchronous), so concurrent requests do
// not add up either.

/** Tokens one model call may hold (a single longer text still goes alone). */
export const MODEL_CALL_TOKENS = 768;

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

/** Embeds `texts` in token-bounded calls, one after another, in order. */
export async function embedInChunks(
  texts: readonly string[],
  countTokens: (text: string) => number,
  run: (chunk: readonly string[]) => Promise<Float32Array[]>,
): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const [start, end] of chunkByTokens(texts.map(countTokens), MODEL_CALL_TOKENS)) out.push(...(await run(texts.slice(start, end))));
  return out;
}
