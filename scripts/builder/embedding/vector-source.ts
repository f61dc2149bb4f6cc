// Where a build's vectors come from: whole in memory (embedded here, or from the
// cache), or a `--vectors` file read a chunk at a time, so that a corpus whose
// vectors do not fit in memory still builds (docs/decisions.md#streamed-build).
// Every pass over the rows asks for them in order, chunk by chunk.
import { open, type FileHandle } from "node:fs/promises";
import { UsageError } from "../../common/cli.ts";
import { rng } from "../training/kernels.ts";

/** USE-lite's outputs are normalized in float32; anything further off was not made by it. */
export const UNIT_NORM_TOLERANCE = 1e-3;
/** One read call's bytes, at most: the operating system caps a single read below what a large set needs. */
const READ_BYTES = 64 * 1024 * 1024;

export interface VectorSource {
  readonly rows: number;
  readonly dim: number;
  /** Rows [start, end), row-major: a view when in memory, a fresh read from a file; into `into` when given. */
  read(start: number, end: number, into?: Float32Array): Promise<Float32Array>;
  /** The whole array when the source already holds it in memory; null for a file. */
  readonly whole: Float32Array | null;
  close(): Promise<void>;
}

export class MemoryVectors implements VectorSource {
  readonly rows: number;
  constructor(
    readonly whole: Float32Array,
    readonly dim: number,
  ) {
    this.rows = whole.length / dim;
  }
  async read(start: number, end: number, into?: Float32Array): Promise<Float32Array> {
    const rows = this.whole.subarray(start * this.dim, end * this.dim);
    if (!into) return rows;
    into.set(rows);
    return into.subarray(0, rows.length);
  }
  async close(): Promise<void> {}
}

export function vectorSource(v: Float32Array | VectorSource, dim: number): VectorSource {
  return v instanceof Float32Array ? new MemoryVectors(v, dim) : v;
}

/**
 * A .f32 file (vectors-file.ts gives its layout), checked as it is first read:
 * every row finite and unit length, else a UsageError naming the row.
 */
export class FileVectors implements VectorSource {
  readonly whole = null;
  /** Rows [0, checked) have been checked: the build reads every row once per pass, and checks each once. */
  private checked = 0;
  private constructor(
    readonly file: string,
    private readonly fh: FileHandle,
    readonly rows: number,
    readonly dim: number,
  ) {}

  static async open(file: string, rows: number, dim: number): Promise<FileVectors> {
    const fh = await open(file).catch((e: Error) => {
      throw new UsageError(`${file}: cannot open (${e.message})`);
    });
    const { size } = await fh.stat();
    const rowBytes = dim * 4;
    const fail = async (msg: string) => {
      await fh.close();
      throw new UsageError(`${file}: ${msg}`);
    };
    if (size % rowBytes !== 0) await fail(`${size} bytes is not a whole number of ${dim}-d float32 rows (${rowBytes} bytes each)`);
    if (size / rowBytes !== rows) await fail(`has ${size / rowBytes} rows, the corpus has ${rows} items (one row per item, in corpus order, blank texts skipped)`);
    return new FileVectors(file, fh, rows, dim);
  }

  async read(start: number, end: number, into?: Float32Array): Promise<Float32Array> {
    const out = into ?? new Float32Array((end - start) * this.dim);
    const bytes = new Uint8Array(out.buffer, out.byteOffset, (end - start) * this.dim * 4);
    const base = start * this.dim * 4;
    for (let o = 0; o < bytes.length; ) {
      const { bytesRead } = await this.fh.read(bytes, o, Math.min(READ_BYTES, bytes.length - o), base + o);
      if (bytesRead === 0) throw new UsageError(`${this.file}: ended at byte ${base + o}`);
      o += bytesRead;
    }
    const from = start <= this.checked ? Math.max(start, this.checked) : start;
    checkRows(this.file, out.subarray((from - start) * this.dim), from, end - from, this.dim);
    if (start <= this.checked) this.checked = Math.max(this.checked, end);
    return out;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

export function checkRows(file: string, v: Float32Array, first: number, rows: number, dim: number): void {
  for (let i = 0; i < rows; i++) {
    let sq = 0;
    for (let d = i * dim; d < (i + 1) * dim; d++) {
      const x = v[d];
      if (!Number.isFinite(x)) throw new UsageError(`${file}: row ${first + i} has a non-finite value (${x}) at dimension ${d - i * dim}`);
      sq += x * x;
    }
    const norm = Math.sqrt(sq);
    if (Math.abs(norm - 1) > UNIT_NORM_TOLERANCE) throw new UsageError(`${file}: row ${first + i} has norm ${norm.toFixed(4)}; rows must be unit length (±${UNIT_NORM_TOLERANCE})`);
  }
}

/** `size` distinct rows of [0, n), ascending, by a seeded partial shuffle; all rows when size ≥ n. */
export function distinctRows(n: number, size: number, seed: number): Int32Array {
  if (size >= n) return Int32Array.from({ length: n }, (_, i) => i);
  const random = rng(seed);
  const picked = new Uint8Array(n);
  const out = new Int32Array(size);
  for (let i = 0; i < size; ) {
    const r = Math.floor(random() * n);
    if (picked[r]) continue;
    picked[r] = 1;
    out[i++] = r;
  }
  return out.sort();
}

/** The given rows (ascending), gathered chunk by chunk into `into` (row-major). */
export async function gatherSource(src: VectorSource, rows: Int32Array, into: Float32Array, chunkRows: number): Promise<Float32Array> {
  const dim = src.dim;
  let j = 0;
  for (let start = 0; start < src.rows && j < rows.length; start += chunkRows) {
    const end = Math.min(src.rows, start + chunkRows);
    if (rows[j] >= end) continue;
    const chunk = await src.read(start, end);
    for (; j < rows.length && rows[j] < end; j++) into.set(chunk.subarray((rows[j] - start) * dim, (rows[j] - start + 1) * dim), j * dim);
  }
  return into;
}
