/*
 * The index format (version 2), in one place.
 *
 * A version of the index is a manifest (JSON, see manifest.ts) naming KV values
 * of four kinds. Every number is little-endian. Binary values travel through KV
 * as base64 text, because KV's bulk read (up to 100 keys, one operation) only
 * returns text or JSON. Every value has exactly one encoder and one decoder,
 * below; nothing else in the project reads or writes these bytes.
 *
 * A query walks a three-level tree, two levels in isolate memory and one in KV:
 *
 *     groups (int8 centroids, in memory) ─▶ leaves (PQ-coded centroids, in memory)
 *       ─▶ round 1: the shards of the nprobe best leaves (KV bulk read)
 *       ─▶ round 2: the item records of the best `rerank` entries (KV bulk read)
 *
 * Two product quantizers (PQ: dim cut into M subspaces, each replaced by the
 * index of its nearest of 256 codebook centroids) do the approximate scoring,
 * by table look-ups against the query: one codes the leaf centroids (leafPqM
 * bytes each, trained on centroids), the other the items (pqM bytes each).
 * Coding items as residuals from their leaf centroid (IVFADC) was measured and
 * dropped: USE-lite leaves of ~24 items keep ~70% of an item's energy in its
 * residual, which PQ codes no better than the item (same recall, 50k headlines).
 *
 * 1. ROUTING — kept in isolate memory, one per version. Stored as one or more
 *    PARTS (`blob/<sha>` each, manifest.routing[]): the encoded bytes cut into
 *    pieces of at most MAX_PART_BYTES, so no KV value passes the 25 MiB limit
 *    however large the index. Concatenated, the parts are:
 *      0  u32  magic "ESR2"
 *      4  u16  dim            (512)
 *      6  u16  pqM            subspaces of the item quantizer
 *      8  u32  groups  G      top-level clusters
 *     12  u32  leaves  L      posting lists (shards)
 *     16  u16  leafPqM        subspaces of the leaf-centroid quantizer
 *     18  u16  reserved (0)
 *     20  f32[G]              group centroid scale: centroid ≈ int8 · scale
 *         i8 [G·dim]          group centroids (padded to 4 bytes)
 *         u32[G+1]            first leaf of each group; group g owns leaves
 *                             groupStart[g] .. groupStart[g+1]-1
 *         f32[256·dim]        leaf-centroid codebooks, subspace-major
 *         f32[256·dim]        item codebooks, subspace-major
 *         u8 [L·leafPqM]      leaf centroids, PQ-coded (padded to 4 bytes)
 *         u32[L]              items per leaf (≥ 1: empty leaves are not stored)
 *         u32[L]              stored length of each leaf's shard (base64 characters)
 *         u8 [L·16]           first 16 bytes of each shard's sha256: its KV key is
 *                             `blob/<32 hex>` of them, and readers check the
 *                             fetched text against the same bytes
 *    Memory: L·(leafPqM + 24) + G·(dim + 8) + 2048·dim bytes — for 1.2M items
 *    in leaves of 24 about 5.5 MB; routingBudget() below is the formula.
 *
 * 2. SHARD (posting list of one leaf), `blob/<sha>`:
 *      0  u32  magic "ESP1"
 *      4  u16  pqM
 *      6  u16  reserved (0)
 *      8  u32  leaf
 *     12  u32  count
 *     16  u8 [count · 8]    item keys: the first 8 bytes of the item record's sha256
 *         u8 [count · pqM]  PQ codes, one byte per subspace, entry-major
 *    Round 1 ranks the entries of the probed shards by asymmetric PQ distance
 *    (query in float, items in codes). Every item is in exactly one leaf.
 *
 * 3. ITEM record, `item/<16 hex>` (hex of the 8 key bytes above), JSON text:
 *      {"id": "...", "text": "...", "meta": {...}, "s": scale, "v": "<base64 i8[dim]>"}
 *    Round 2 reads the records of the best `rerank` candidates in one bulk read,
 *    re-scores them with their int8 vectors (cosine error < 0.4%), and the best k
 *    are the answer, text and metadata included.
 *
 * 4. CATALOG — every item record's key and size, for deploys (what to upload,
 *    what to collect) and the bench's exact scan; never read by a query. Stored
 *    as parts like the routing (manifest.catalog[]). Concatenated:
 *      0  u32  magic "ESC2"
 *      4  u32  count
 *      8  count × [u8[8] item key, u32 record bytes]
 *
 * Integrity: a value's KV key embeds its sha256 (blobs: 128 bits; item records:
 * 64 bits, checked against the build's keys for collisions). Readers verify
 * every value they fetch, and treat a mismatch or a missing value as an error,
 * never as a smaller answer.
 */
import { fromBase64, toBase64 } from "./base64.ts";
import { concat } from "./concat.ts";

export const ROUTING_MAGIC = 0x32525345; // "ESR2"
export const SHARD_MAGIC = 0x31505345; // "ESP1"
export const CATALOG_MAGIC = 0x32435345; // "ESC2"
export const PQ_CENTROIDS = 256;
export const ITEM_KEY_BYTES = 8;
/** Bytes of a shard's sha256 kept in the routing; also the width of `blob/<hex>` keys. */
export const SHARD_HASH_BYTES = 16;
/** Workers KV refuses values over 25 MiB. */
export const MAX_KV_VALUE_BYTES = 25 * 1024 * 1024;
/** Routing and catalog parts: 12 MiB of bytes is 16 MiB of base64, well under the KV limit. */
export const MAX_PART_BYTES = 12 * 1024 * 1024;
const HEADER_BYTES = 20;
const CATALOG_HEADER_BYTES = 8;
const CATALOG_ENTRY_BYTES = ITEM_KEY_BYTES + 4;

export class FormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FormatError";
  }
}

export interface Routing {
  dim: number;
  pqM: number;
  leafPqM: number;
  groups: number;
  leaves: number;
  groupScales: Float32Array;
  groupCentroids: Int8Array;
  /** groups + 1 entries. */
  groupStart: Uint32Array;
  /** Leaf-centroid quantizer. */
  leafCodebooks: Float32Array;
  /** Item quantizer. */
  codebooks: Float32Array;
  /** leaves × leafPqM */
  leafCodes: Uint8Array;
  leafSizes: Uint32Array;
  shardBytes: Uint32Array;
  /** leaves × SHARD_HASH_BYTES */
  shardHashes: Uint8Array;
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

export interface CatalogEntry {
  key: string;
  bytes: number;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/** Byte offsets of every routing section, from its header fields alone. */
function routingLayout(dim: number, leafPqM: number, groups: number, leaves: number) {
  const groupScales = HEADER_BYTES;
  const groupCentroids = groupScales + 4 * groups;
  const groupStart = groupCentroids + align4(groups * dim);
  const leafCodebooks = groupStart + 4 * (groups + 1);
  const codebooks = leafCodebooks + 4 * PQ_CENTROIDS * dim;
  const leafCodes = codebooks + 4 * PQ_CENTROIDS * dim;
  const leafSizes = leafCodes + align4(leaves * leafPqM);
  const shardBytes = leafSizes + 4 * leaves;
  const shardHashes = shardBytes + 4 * leaves;
  const end = shardHashes + SHARD_HASH_BYTES * leaves;
  return { groupScales, groupCentroids, groupStart, leafCodebooks, codebooks, leafCodes, leafSizes, shardBytes, shardHashes, end };
}

export function routingByteLength(dim: number, leafPqM: number, groups: number, leaves: number): number {
  return routingLayout(dim, leafPqM, groups, leaves).end;
}

/**
 * The routing's size for n items in leaves of `leafSize` (about sqrt(leaves)
 * groups): the in-isolate cost of an index, used by the build to size leaves.
 */
export function routingBudget(n: number, leafSize: number, dim: number, leafPqM: number): number {
  const leaves = Math.ceil(n / leafSize);
  return routingByteLength(dim, leafPqM, Math.ceil(Math.sqrt(leaves)), leaves);
}

export function encodeRouting(r: Routing): Uint8Array {
  const { dim, pqM, leafPqM, groups, leaves } = r;
  if (dim % pqM !== 0 || dim % leafPqM !== 0) throw new FormatError(`dim ${dim} is not a multiple of pqM ${pqM} and leafPqM ${leafPqM}`);
  if (r.groupStart[groups] !== leaves) throw new FormatError("the groups do not cover every leaf");
  const at = routingLayout(dim, leafPqM, groups, leaves);
  const buf = new ArrayBuffer(at.end);
  const view = new DataView(buf);
  view.setUint32(0, ROUTING_MAGIC, true);
  view.setUint16(4, dim, true);
  view.setUint16(6, pqM, true);
  view.setUint32(8, groups, true);
  view.setUint32(12, leaves, true);
  view.setUint16(16, leafPqM, true);
  new Float32Array(buf, at.groupScales, groups).set(r.groupScales);
  new Int8Array(buf, at.groupCentroids, groups * dim).set(r.groupCentroids);
  new Uint32Array(buf, at.groupStart, groups + 1).set(r.groupStart);
  new Float32Array(buf, at.leafCodebooks, PQ_CENTROIDS * dim).set(r.leafCodebooks);
  new Float32Array(buf, at.codebooks, PQ_CENTROIDS * dim).set(r.codebooks);
  new Uint8Array(buf, at.leafCodes, leaves * leafPqM).set(r.leafCodes);
  new Uint32Array(buf, at.leafSizes, leaves).set(r.leafSizes);
  new Uint32Array(buf, at.shardBytes, leaves).set(r.shardBytes);
  new Uint8Array(buf, at.shardHashes, leaves * SHARD_HASH_BYTES).set(r.shardHashes);
  return new Uint8Array(buf);
}

/** Typed views need 4-byte alignment: copy only when the input lacks it. */
function aligned(bytes: Uint8Array): { buf: ArrayBuffer; base: number } {
  if (bytes.byteOffset % 4 === 0) return { buf: bytes.buffer as ArrayBuffer, base: bytes.byteOffset };
  return { buf: bytes.slice().buffer as ArrayBuffer, base: 0 };
}

export function decodeRouting(bytes: Uint8Array): Routing {
  if (bytes.byteLength < HEADER_BYTES) throw new FormatError("routing is truncated");
  const { buf, base } = aligned(bytes);
  const view = new DataView(buf, base, bytes.byteLength);
  if (view.getUint32(0, true) !== ROUTING_MAGIC) throw new FormatError("routing has a bad magic number");
  const dim = view.getUint16(4, true);
  const pqM = view.getUint16(6, true);
  const groups = view.getUint32(8, true);
  const leaves = view.getUint32(12, true);
  const leafPqM = view.getUint16(16, true);
  if (!dim || !pqM || !leafPqM || dim % pqM !== 0 || dim % leafPqM !== 0) throw new FormatError(`routing: bad dim ${dim} / pqM ${pqM} / leafPqM ${leafPqM}`);
  if (!groups || groups > leaves) throw new FormatError(`routing: bad group count ${groups} for ${leaves} leaves`);
  const at = routingLayout(dim, leafPqM, groups, leaves);
  if (bytes.byteLength !== at.end) throw new FormatError(`routing is ${bytes.byteLength} bytes, expected ${at.end}`);
  const r: Routing = {
    dim,
    pqM,
    leafPqM,
    groups,
    leaves,
    groupScales: new Float32Array(buf, base + at.groupScales, groups),
    groupCentroids: new Int8Array(buf, base + at.groupCentroids, groups * dim),
    groupStart: new Uint32Array(buf, base + at.groupStart, groups + 1),
    leafCodebooks: new Float32Array(buf, base + at.leafCodebooks, PQ_CENTROIDS * dim),
    codebooks: new Float32Array(buf, base + at.codebooks, PQ_CENTROIDS * dim),
    leafCodes: new Uint8Array(buf, base + at.leafCodes, leaves * leafPqM),
    leafSizes: new Uint32Array(buf, base + at.leafSizes, leaves),
    shardBytes: new Uint32Array(buf, base + at.shardBytes, leaves),
    shardHashes: new Uint8Array(buf, base + at.shardHashes, leaves * SHARD_HASH_BYTES),
  };
  for (let g = 0; g < groups; g++) {
    if (r.groupStart[g] > r.groupStart[g + 1]) throw new FormatError(`routing: group ${g} has a negative leaf range`);
  }
  if (r.groupStart[0] !== 0 || r.groupStart[groups] !== leaves) throw new FormatError("routing: the groups do not cover every leaf");
  return r;
}

/** KV key of leaf `leaf`'s shard. */
export function shardKey(r: Routing, leaf: number): string {
  return `blob/${hex(r.shardHashes, leaf * SHARD_HASH_BYTES, (leaf + 1) * SHARD_HASH_BYTES)}`;
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

export function encodeCatalog(keyBytes: Uint8Array, recordBytes: ArrayLike<number>): Uint8Array {
  const n = recordBytes.length;
  if (keyBytes.length !== n * ITEM_KEY_BYTES) throw new FormatError("catalog: one key per record");
  const out = new Uint8Array(CATALOG_HEADER_BYTES + n * CATALOG_ENTRY_BYTES);
  const view = new DataView(out.buffer);
  view.setUint32(0, CATALOG_MAGIC, true);
  view.setUint32(4, n, true);
  for (let i = 0; i < n; i++) {
    const o = CATALOG_HEADER_BYTES + i * CATALOG_ENTRY_BYTES;
    out.set(keyBytes.subarray(i * ITEM_KEY_BYTES, (i + 1) * ITEM_KEY_BYTES), o);
    view.setUint32(o + ITEM_KEY_BYTES, recordBytes[i], true);
  }
  return out;
}

export function decodeCatalog(bytes: Uint8Array): CatalogEntry[] {
  if (bytes.byteLength < CATALOG_HEADER_BYTES) throw new FormatError("catalog is truncated");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== CATALOG_MAGIC) throw new FormatError("catalog has a bad magic number");
  const n = view.getUint32(4, true);
  if (bytes.byteLength !== CATALOG_HEADER_BYTES + n * CATALOG_ENTRY_BYTES) {
    throw new FormatError(`catalog is ${bytes.byteLength} bytes, expected ${CATALOG_HEADER_BYTES + n * CATALOG_ENTRY_BYTES} for ${n} records`);
  }
  const out: CatalogEntry[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const o = CATALOG_HEADER_BYTES + i * CATALOG_ENTRY_BYTES;
    out[i] = { key: `item/${hex(bytes, o, o + ITEM_KEY_BYTES)}`, bytes: view.getUint32(o + ITEM_KEY_BYTES, true) };
  }
  return out;
}

/** A large value cut into KV-sized parts (routing, catalog), each stored as base64 text. */
export function splitParts(bytes: Uint8Array, maxPartBytes = MAX_PART_BYTES): string[] {
  const parts: string[] = [];
  for (let o = 0; o < bytes.length || parts.length === 0; o += maxPartBytes) parts.push(blobToText(bytes.subarray(o, o + maxPartBytes)));
  return parts;
}

export function joinParts(texts: string[]): Uint8Array {
  const decoded = texts.map(textToBlob);
  return decoded.length === 1 ? decoded[0] : concat(decoded);
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
