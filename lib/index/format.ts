/*
 * The index format, in one place.
 *
 * A version of the index is a manifest (JSON, see manifest.ts) naming three kinds
 * of KV values. Every number is little-endian. Binary blobs travel through KV as
 * base64 text, because KV's bulk read (up to 100 keys, one operation, not subject
 * to the simultaneous-connection limit) only returns text or JSON.
 *
 * 1. ROUTING blob — kept in isolate memory, one per version, `blob/<sha>`:
 *      0  u32  magic "ESR1"
 *      4  u16  dim            (512)
 *      6  u16  pqM            number of product-quantizer subspaces (64)
 *      8  u32  leaves         number of posting lists
 *     12  u32  reserved (0)
 *     16  f32[leaves]              centroid scale: centroid ≈ int8 * scale
 *         i8 [leaves * dim]        leaf centroids, unit length before quantizing
 *         f32[pqM * 256 * dim/pqM] PQ codebooks, subspace-major
 *         u32[leaves]              items per leaf (0 allowed)
 *    Leaf i's posting list is the shard named manifest.shards[i].
 *
 * 2. SHARD (posting list of one leaf), `blob/<sha>`:
 *      0  u32  magic "ESP1"
 *      4  u16  pqM
 *      6  u16  reserved (0)
 *      8  u32  leaf
 *     12  u32  count
 *     16  u8 [count * 8]    item keys: the first 8 bytes of the item record's sha256
 *         u8 [count * pqM]  PQ codes, one byte per subspace, entry-major
 *    Round 1 of a query reads the shards of its nprobe nearest leaves and ranks
 *    their entries by asymmetric PQ distance (query in float, items in codes).
 *    An item may appear in more than one leaf (boundary duplication); readers
 *    de-duplicate by key.
 *
 * 3. ITEM record, `item/<16 hex>` (hex of the 8 key bytes above), JSON text:
 *      {"id": "...", "text": "...", "meta": {...}, "s": scale, "v": "<base64 i8[dim]>"}
 *    Round 2 reads the records of the best `rerank` candidates in one bulk read,
 *    re-scores them with their int8 vectors (cosine error < 0.4%), and the best k
 *    are the answer, text and metadata included — no third round.
 *
 * Integrity: a shard's KV key embeds its sha256 and the manifest lists it in full;
 * an item key is its record's sha256 prefix. Readers verify both, and treat a
 * mismatch or a missing value as an error, never as a smaller answer.
 */
import { fromBase64, toBase64 } from "./base64.ts";

export const ROUTING_MAGIC = 0x31525345; // "ESR1"
export const SHARD_MAGIC = 0x31505345; // "ESP1"
export const PQ_CENTROIDS = 256;
export const ITEM_KEY_BYTES = 8;

export class FormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FormatError";
  }
}

export interface Routing {
  dim: number;
  pqM: number;
  leaves: number;
  centroidScales: Float32Array;
  centroids: Int8Array;
  codebooks: Float32Array;
  leafSizes: Uint32Array;
}

export interface Shard {
  leaf: number;
  count: number;
  pqM: number;
  keys: Uint8Array;
  codes: Uint8Array;
}

export interface ItemRecord {
  id: string;
  text: string;
  meta: Record<string, string | number | boolean | null>;
  /** int8 scale */
  s: number;
  /** base64 int8[dim] */
  v: string;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

export function routingByteLength(dim: number, pqM: number, leaves: number): number {
  const head = 16 + 4 * leaves + align4(leaves * dim);
  return head + 4 * PQ_CENTROIDS * dim + 4 * leaves;
}

export function encodeRouting(r: Routing): Uint8Array {
  const { dim, pqM, leaves } = r;
  if (dim % pqM !== 0) throw new FormatError(`dim ${dim} is not a multiple of pqM ${pqM}`);
  const buf = new ArrayBuffer(routingByteLength(dim, pqM, leaves));
  const view = new DataView(buf);
  view.setUint32(0, ROUTING_MAGIC, true);
  view.setUint16(4, dim, true);
  view.setUint16(6, pqM, true);
  view.setUint32(8, leaves, true);
  let o = 16;
  new Float32Array(buf, o, leaves).set(r.centroidScales);
  o += 4 * leaves;
  new Int8Array(buf, o, leaves * dim).set(r.centroids);
  o += align4(leaves * dim);
  new Float32Array(buf, o, PQ_CENTROIDS * dim).set(r.codebooks);
  o += 4 * PQ_CENTROIDS * dim;
  new Uint32Array(buf, o, leaves).set(r.leafSizes);
  return new Uint8Array(buf);
}

export function decodeRouting(bytes: Uint8Array): Routing {
  // Copy to an aligned buffer so typed views can be used in place.
  const buf = bytes.byteOffset % 4 === 0 ? bytes.buffer : bytes.slice().buffer;
  const base = bytes.byteOffset % 4 === 0 ? bytes.byteOffset : 0;
  if (bytes.byteLength < 16) throw new FormatError("routing blob is truncated");
  const view = new DataView(buf, base, bytes.byteLength);
  if (view.getUint32(0, true) !== ROUTING_MAGIC) throw new FormatError("routing blob has a bad magic number");
  const dim = view.getUint16(4, true);
  const pqM = view.getUint16(6, true);
  const leaves = view.getUint32(8, true);
  if (!dim || !pqM || dim % pqM !== 0) throw new FormatError(`routing blob: bad dim ${dim} / pqM ${pqM}`);
  if (bytes.byteLength !== routingByteLength(dim, pqM, leaves)) {
    throw new FormatError(`routing blob is ${bytes.byteLength} bytes, expected ${routingByteLength(dim, pqM, leaves)}`);
  }
  let o = base + 16;
  const centroidScales = new Float32Array(buf, o, leaves);
  o += 4 * leaves;
  const centroids = new Int8Array(buf, o, leaves * dim);
  o += align4(leaves * dim);
  const codebooks = new Float32Array(buf, o, PQ_CENTROIDS * dim);
  o += 4 * PQ_CENTROIDS * dim;
  const leafSizes = new Uint32Array(buf, o, leaves);
  return { dim, pqM, leaves, centroidScales, centroids, codebooks, leafSizes };
}

export function encodeShard(s: Shard): Uint8Array {
  const out = new Uint8Array(16 + s.count * (ITEM_KEY_BYTES + s.pqM));
  const view = new DataView(out.buffer);
  view.setUint32(0, SHARD_MAGIC, true);
  view.setUint16(4, s.pqM, true);
  view.setUint32(8, s.leaf, true);
  view.setUint32(12, s.count, true);
  out.set(s.keys.subarray(0, s.count * ITEM_KEY_BYTES), 16);
  out.set(s.codes.subarray(0, s.count * s.pqM), 16 + s.count * ITEM_KEY_BYTES);
  return out;
}

export function decodeShard(bytes: Uint8Array): Shard {
  if (bytes.byteLength < 16) throw new FormatError("shard is truncated");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== SHARD_MAGIC) throw new FormatError("shard has a bad magic number");
  const pqM = view.getUint16(4, true);
  const leaf = view.getUint32(8, true);
  const count = view.getUint32(12, true);
  if (bytes.byteLength !== 16 + count * (ITEM_KEY_BYTES + pqM)) throw new FormatError(`shard of leaf ${leaf} has the wrong length`);
  const keys = bytes.subarray(16, 16 + count * ITEM_KEY_BYTES);
  const codes = bytes.subarray(16 + count * ITEM_KEY_BYTES);
  return { leaf, count, pqM, keys, codes };
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export function hex(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let s = "";
  for (let i = start; i < end; i++) s += HEX[bytes[i]];
  return s;
}

export function itemKey(keyBytes: Uint8Array, entry: number): string {
  return `item/${hex(keyBytes, entry * ITEM_KEY_BYTES, (entry + 1) * ITEM_KEY_BYTES)}`;
}

/** KV values are text so that bulk reads can fetch them. */
export const blobToText = toBase64;
export const textToBlob = fromBase64;
