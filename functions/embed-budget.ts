// The model's work per call and per request, bounded by tokens. WebAssembly
// memory only grows: one call's activations set the heap's high-water mark for
// the isolate's life. Measured in workerd (USE-lite f16; a 1,000-character
// English text is ~180 tokens, a headline ~12): the heap stays at its idle 52.9
// MiB for calls of up to ~75 tokens (one 400-character text), and grows to 63.5
// MiB for ~110-180 tokens (one 600- or 1,000-character text, or 16 headlines in
// one call), 76.3 MiB for 5-8 long texts, 136.9 MiB for 32 (over the 128 MB
// isolate limit). Calls of at most MODEL_CALL_TOKENS tokens keep ordinary
// traffic (batches of short queries) at 52.9 MiB; only a single text over ~75
// tokens, which cannot be split without changing its embedding, takes it to
// 63.5 MiB, once. Model calls never overlap (execute is synchronous), so
// concurrent requests do not add up.

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
