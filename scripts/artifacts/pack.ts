// items.pack, the item records of a version in item order (layout: dir.ts),
// written and read a buffer at a time: at 10M items the pack is several GB,
// more than one read or one Node buffer can hold, so neither side ever holds it
// whole. The reader keeps, per record, its key, offset and length in typed
// arrays, and finds a key by binary search over the sorted keys.
import { open, type FileHandle } from "node:fs/promises";
import { hex, ITEM_KEY_BYTES } from "../../lib/index/format.ts";

export const PACK_MAGIC = 0x31495345; // "ESI1"
/** Bytes written or read at a time. */
const PACK_IO_BYTES = 16 * 1024 * 1024;
const HEAD_BYTES = 8;
const ENTRY_HEAD_BYTES = ITEM_KEY_BYTES + 4;

/** Appends records in item order; `close` checks that exactly `count` came. */
export class PackWriter {
  private parts: Buffer[] = [];
  private size = 0;
  private written = 0;
  private constructor(
    readonly file: string,
    private readonly fh: FileHandle,
    readonly count: number,
  ) {}

  static async create(file: string, count: number): Promise<PackWriter> {
    const fh = await open(file, "w");
    const w = new PackWriter(file, fh, count);
    const head = Buffer.alloc(HEAD_BYTES);
    head.writeUInt32LE(PACK_MAGIC, 0);
    head.writeUInt32LE(count, 4);
    w.push(head);
    return w;
  }

  private push(b: Buffer): void {
    this.parts.push(b);
    this.size += b.length;
  }

  /** `key` is `item/<16 hex>`. Returns a promise only when the buffered bytes are written out: a caller awaits that, not every record. */
  add(key: string, text: string): Promise<void> | undefined {
    const length = Buffer.byteLength(text);
    const entry = Buffer.allocUnsafe(ENTRY_HEAD_BYTES + length);
    entry.write(key.slice(5), 0, "hex");
    entry.writeUInt32LE(length, ITEM_KEY_BYTES);
    entry.write(text, ENTRY_HEAD_BYTES, "utf8");
    this.push(entry);
    this.written++;
    return this.size >= PACK_IO_BYTES ? this.flush() : undefined;
  }

  private async flush(): Promise<void> {
    if (this.parts.length) await this.fh.write(Buffer.concat(this.parts));
    this.parts = [];
    this.size = 0;
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await this.fh.close();
    }
    if (this.written !== this.count) throw new Error(`${this.file}: ${this.written} records written, the header says ${this.count}`);
  }
}

/** A pack's records by row (item order) and by key, read from the file on demand (opened per call: nothing to close). */
export class PackReader {
  private constructor(
    readonly file: string,
    /** rows × 8 key bytes, in item order. */
    readonly keyBytes: Uint8Array,
    readonly offsets: Float64Array,
    readonly lengths: Uint32Array,
    /** Rows in ascending key order. */
    private readonly sorted: Uint32Array,
  ) {}

  get count(): number {
    return this.lengths.length;
  }

  static async open(file: string): Promise<PackReader> {
    const fh = await open(file);
    try {
      const head = Buffer.alloc(HEAD_BYTES);
      await fh.read(head, 0, HEAD_BYTES, 0);
      if (head.readUInt32LE(0) !== PACK_MAGIC) throw new Error(`${file} is not an items pack`);
      const n = head.readUInt32LE(4);
      const keyBytes = new Uint8Array(n * ITEM_KEY_BYTES);
      const offsets = new Float64Array(n);
      const lengths = new Uint32Array(n);
      await scanEntries(fh, n, (i, entry, offset) => {
        keyBytes.set(entry.subarray(0, ITEM_KEY_BYTES), i * ITEM_KEY_BYTES);
        lengths[i] = entry.readUInt32LE(ITEM_KEY_BYTES);
        offsets[i] = offset;
        return lengths[i];
      });
      return new PackReader(file, keyBytes, offsets, lengths, sortByKey(keyBytes, n));
    } finally {
      await fh.close();
    }
  }

  key(row: number): string {
    return `item/${hex(this.keyBytes, row * ITEM_KEY_BYTES, (row + 1) * ITEM_KEY_BYTES)}`;
  }

  /** The row of `item/<16 hex>`, or −1. */
  rowOf(key: string): number {
    if (!key.startsWith("item/") || key.length !== 5 + 2 * ITEM_KEY_BYTES) return -1;
    const want = Buffer.from(key.slice(5), "hex");
    let lo = 0;
    let hi = this.sorted.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const c = compareKey(this.keyBytes, this.sorted[mid], want);
      if (c === 0) return this.sorted[mid];
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  async text(row: number): Promise<string> {
    return (await this.texts([row]))[0];
  }

  /** The records of `rows`, through one open of the file. */
  async texts(rows: readonly number[]): Promise<string[]> {
    const fh = await open(this.file);
    try {
      return await Promise.all(
        rows.map(async (row) => {
          const buf = Buffer.alloc(this.lengths[row]);
          await fh.read(buf, 0, buf.length, this.offsets[row]);
          return buf.toString("utf8");
        }),
      );
    } finally {
      await fh.close();
    }
  }
}

/** Calls `fn(i, entryHead, bodyOffset)` for every record; fn returns the body's length. */
async function scanEntries(fh: FileHandle, n: number, fn: (i: number, head: Buffer, offset: number) => number): Promise<void> {
  const buf = Buffer.alloc(PACK_IO_BYTES);
  let bufStart = HEAD_BYTES;
  let filled = 0;
  let pos = HEAD_BYTES;
  const ensure = async (bytes: number) => {
    if (pos + bytes <= bufStart + filled) return;
    bufStart = pos;
    filled = (await fh.read(buf, 0, buf.length, pos)).bytesRead;
    if (filled < bytes) throw new Error(`items pack ends inside record at byte ${pos}`);
  };
  for (let i = 0; i < n; i++) {
    await ensure(ENTRY_HEAD_BYTES);
    const o = pos - bufStart;
    pos += ENTRY_HEAD_BYTES + fn(i, buf.subarray(o, o + ENTRY_HEAD_BYTES), pos + ENTRY_HEAD_BYTES);
  }
}

function compareKey(keys: Uint8Array, row: number, want: Uint8Array): number {
  const o = row * ITEM_KEY_BYTES;
  for (let b = 0; b < ITEM_KEY_BYTES; b++) if (keys[o + b] !== want[b]) return keys[o + b] - want[b];
  return 0;
}

/** Rows ordered by their 8-byte keys (as two big-endian u32 halves). */
function sortByKey(keys: Uint8Array, n: number): Uint32Array {
  const view = new DataView(keys.buffer, keys.byteOffset, keys.byteLength);
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    hi[i] = view.getUint32(i * ITEM_KEY_BYTES, false);
    lo[i] = view.getUint32(i * ITEM_KEY_BYTES + 4, false);
  }
  return Uint32Array.from({ length: n }, (_, i) => i).sort((a, b) => hi[a] - hi[b] || lo[a] - lo[b]);
}

/** The first pair of rows with one key, or null: rows ordered by key put equal keys side by side. */
export function keyCollision(keys: Uint8Array, n: number): [number, number] | null {
  const order = sortByKey(keys, n);
  for (let i = 1; i < n; i++) {
    const a = order[i - 1];
    const b = order[i];
    if (compareKey(keys, a, keys.subarray(b * ITEM_KEY_BYTES, (b + 1) * ITEM_KEY_BYTES)) === 0) return a < b ? [a, b] : [b, a];
  }
  return null;
}
