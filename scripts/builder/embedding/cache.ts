// Embedding cache: an append-only file per model of [sha256(text) 32 B][dim × f32].
// Keyed by model id + text hash, so a rebuild after a small corpus change embeds
// only new texts, and a model change can never serve stale vectors. Lookups
// stream the file and keep only the rows the corpus needs (bounded memory).
import { createReadStream } from "node:fs";
import { appendFile, mkdir } from "node:fs/promises";
import { createHash } from "node:crypto";
import path from "node:path";
import { EMBEDDING_DIM } from "../../../lib/model/embed.ts";

const HASH_BYTES = 32;
const ROW_BYTES = HASH_BYTES + EMBEDDING_DIM * 4;

export function textHash(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export class EmbeddingCache {
  readonly file: string;
  constructor(dir: string, modelId: string) {
    this.file = path.join(dir, `${modelId.replace(/[^A-Za-z0-9._-]+/g, "_")}.f32cache`);
  }

  /**
   * Fills out[row] for every wanted hash found; returns the rows filled.
   * `wanted` maps text hash → rows of the output that want that text.
   */
  async lookup(wanted: Map<string, number[]>, out: Float32Array): Promise<Set<number>> {
    const filled = new Set<number>();
    let stream;
    try {
      stream = createReadStream(this.file);
      let carry = Buffer.alloc(0);
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        const buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
        let o = 0;
        for (; o + ROW_BYTES <= buf.length; o += ROW_BYTES) {
          const h = buf.toString("hex", o, o + HASH_BYTES);
          const rows = wanted.get(h);
          if (!rows) continue;
          const v = new Float32Array(buf.buffer.slice(buf.byteOffset + o + HASH_BYTES, buf.byteOffset + o + ROW_BYTES));
          for (const r of rows) {
            out.set(v, r * EMBEDDING_DIM);
            filled.add(r);
          }
        }
        carry = Buffer.from(buf.subarray(o));
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    return filled;
  }

  async append(entries: Array<{ hash: string; vector: Float32Array }>): Promise<void> {
    if (entries.length === 0) return;
    await mkdir(path.dirname(this.file), { recursive: true });
    const buf = Buffer.alloc(entries.length * ROW_BYTES);
    entries.forEach((e, i) => {
      buf.write(e.hash, i * ROW_BYTES, "hex");
      Buffer.from(e.vector.buffer, e.vector.byteOffset, e.vector.byteLength).copy(buf, i * ROW_BYTES + HASH_BYTES);
    });
    await appendFile(this.file, buf);
  }
}
