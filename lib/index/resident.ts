// A version's item records held in isolate memory (format.ts, section 8): what
// round 2 would read from KV, looked up by item key instead. Loaded block by
// block, each checked against its sha256 before use; a block that is missing
// or corrupt fails the whole load, and queries keep reading records from KV.
import { decodeResidentBlock, ITEM_KEY_BYTES, keyHalf, residentRecord, textToBlob, type ItemRecord, type ResidentBlock } from "./format.ts";
import type { ManifestResident } from "./manifest.ts";
import { sha256Hex } from "./sha256.ts";
import { dotInt8 } from "./vector.ts";
import type { BlobSource } from "./fetch.ts";

const KEY_PREFIX = "item/";
const HALF_HEX = ITEM_KEY_BYTES; // hex digits in each 32-bit half of a key

export class ResidentRecords {
  readonly items: number;
  /** Decoded bytes held (the blocks' buffers). */
  readonly bytes: number;
  private readonly blockStart: Uint32Array;
  /** Every entry's key as two 32-bit halves, in key order, and the entry each one is. */
  private readonly hi: Uint32Array;
  private readonly lo: Uint32Array;
  private readonly entry: Uint32Array;

  constructor(
    private readonly blocks: ResidentBlock[],
    readonly dim: number,
  ) {
    this.blockStart = new Uint32Array(blocks.length + 1);
    blocks.forEach((b, i) => (this.blockStart[i + 1] = this.blockStart[i] + b.count));
    this.items = this.blockStart[blocks.length];
    this.bytes = blocks.reduce((s, b) => s + b.keys.buffer.byteLength, 0);
    const hi = new Uint32Array(this.items);
    const lo = new Uint32Array(this.items);
    blocks.forEach((b, i) => {
      for (let e = 0; e < b.count; e++) {
        hi[this.blockStart[i] + e] = keyHalf(b.keys, e, 0);
        lo[this.blockStart[i] + e] = keyHalf(b.keys, e, 1);
      }
    });
    const order = Array.from({ length: this.items }, (_, g) => g).sort((a, b) => hi[a] - hi[b] || lo[a] - lo[b]);
    this.entry = Uint32Array.from(order);
    this.hi = Uint32Array.from(order, (g) => hi[g]);
    this.lo = Uint32Array.from(order, (g) => lo[g]);
  }

  /** The entry holding record `key` (`item/<16 hex>`), or -1. */
  find(key: string): number {
    if (key.length !== KEY_PREFIX.length + 2 * ITEM_KEY_BYTES || !key.startsWith(KEY_PREFIX)) return -1;
    const h = parseInt(key.slice(KEY_PREFIX.length, KEY_PREFIX.length + HALF_HEX), 16);
    const l = parseInt(key.slice(KEY_PREFIX.length + HALF_HEX), 16);
    let a = 0;
    let b = this.items;
    while (a < b) {
      const m = (a + b) >>> 1;
      if (this.hi[m] < h || (this.hi[m] === h && this.lo[m] < l)) a = m + 1;
      else b = m;
    }
    return a < this.items && this.hi[a] === h && this.lo[a] === l ? this.entry[a] : -1;
  }

  /** The query's similarity to entry g, as round 2 scores a record: int8 dot product times its scale. */
  score(q: Float32Array, g: number): number {
    const [b, e] = this.locate(g);
    return dotInt8(q, b.vectors, e * this.dim, this.dim) * b.scales[e];
  }

  record(g: number): Pick<ItemRecord, "id" | "text" | "meta"> {
    const [b, e] = this.locate(g);
    return residentRecord(b, e);
  }

  /** The record's stored size, so a query's byte count reads as it would from KV. */
  recordBytes(g: number): number {
    const [b, e] = this.locate(g);
    return b.recordBytes[e];
  }

  private locate(g: number): [ResidentBlock, number] {
    let a = 0;
    let b = this.blocks.length - 1;
    while (a < b) {
      const m = (a + b + 1) >>> 1;
      if (this.blockStart[m] <= g) a = m;
      else b = m - 1;
    }
    return [this.blocks[a], g - this.blockStart[a]];
  }
}

/**
 * Reads and checks the blocks one at a time, so at most one block's text is
 * held beside what is kept. Throws (with the block's key) on a missing,
 * corrupt or mismatched block, or when the items or bytes do not add up: the
 * isolate's budget was checked against `copy.bytes`, and must hold.
 */
export async function loadResident(copy: ManifestResident, dim: number, source: BlobSource): Promise<ResidentRecords> {
  const blocks: ResidentBlock[] = [];
  let bytes = 0;
  for (const ref of copy.blocks) {
    const text = (await source.getTexts([ref.key])).get(ref.key);
    if (text == null) throw new Error(`resident block ${ref.key} is missing`);
    if (text.length !== ref.bytes || (await sha256Hex(text)) !== ref.sha256) throw new Error(`resident block ${ref.key} fails its checksum`);
    const raw = textToBlob(text);
    bytes += raw.byteLength;
    if (bytes > copy.bytes) throw new Error(`resident block ${ref.key} takes the copy past the ${copy.bytes} bytes the manifest declares`);
    const block = decodeResidentBlock(raw);
    if (block.dim !== dim) throw new Error(`resident block ${ref.key} has dim ${block.dim}, the index ${dim}`);
    blocks.push(block);
  }
  const table = new ResidentRecords(blocks, dim);
  if (table.items !== copy.items || bytes !== copy.bytes) {
    throw new Error(`the resident blocks hold ${table.items} records in ${bytes} bytes, the manifest says ${copy.items} in ${copy.bytes}`);
  }
  return table;
}
