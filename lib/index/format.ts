/*
 * The index format (version 5), in one place.
 *
 * A version of the index is a manifest (JSON, see manifest.ts) naming KV values
 * of four kinds, seven with filters, eight with a resident copy of the records,
 * and three more with a lexical index (sections 9–11), and its delta (12).
 * Every number is little-endian. Binary values travel through KV
 * as base64 text, because KV's bulk read (up to 100 keys, one operation) only
 * returns text or JSON. Every value has exactly one encoder and one decoder,
 * below; nothing else in the project reads or writes these bytes.
 *
 * A query walks a three-level tree, two levels in isolate memory and one in KV:
 *
 *     groups (int8 centroids, in memory) ─▶ leaves (PQ-coded centroids, in memory)
 *       ─▶ round 1: the shards of the nprobe best leaves, more when they score
 *          alike (the manifest's probeMargin, leaves.ts) (KV bulk read)
 *       ─▶ round 2: the item records of the best entries (KV bulk read, or
 *          none once the isolate holds the resident copy, section 8)
 *
 * Two product quantizers (PQ: dim cut into M subspaces, each replaced by the
 * index of its nearest of 256 codebook centroids) do the approximate scoring,
 * by table look-ups against the query: one codes the leaf centroids (leafPqM
 * bytes each, trained on centroids), the other the items (pqM bytes each),
 * after a learned rotation (OPQ) that spreads the variance over the subspaces:
 * it lowers the item codes' distortion, which lets 32-byte codes rank as well
 * as 64-byte ones did without it (docs/decisions.md#opq-rotation).
 * Coding items as residuals from their leaf centroid (IVFADC) was tried and
 * dropped: USE-lite's small leaves keep most of an item's energy in its
 * residual, which PQ codes no better than the item, for the same recall
 * (docs/decisions.md#residual-coding-ivfadc-not-taken).
 *
 * 1. ROUTING — kept in isolate memory, one per version. Stored as one or more
 *    PARTS (`blob/<sha>` each, manifest.routing[]): the encoded bytes cut into
 *    pieces of at most MAX_PART_BYTES, so no KV value passes the 25 MiB limit
 *    however large the index. Concatenated, the parts are:
 *      0  u32  magic "ESR4"
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
 *         f32[leafPqM]        scale of each leaf codebook (a power of two)
 *         f32[pqM]            …of each item codebook
 *         f32[dim]            …of each row of the rotation
 *         i16[256·dim]        leaf-centroid codebooks, subspace-major: codebook
 *                             m's values are int16 · its scale (ScaledRows, below;
 *                             quantize.ts scores with it)
 *         i16[256·dim]        item codebooks, subspace-major, of rotated vectors
 *         i16[dim·dim]        the item quantizer's rotation R, row-major: items
 *                             are coded, and queries scored, as R·x (OPQ,
 *                             scripts/builder/training/opq.ts; the identity for tiny builds)
 *         u8 [L·leafPqM]      leaf centroids, PQ-coded (padded to 4 bytes)
 *         u32[L]              entries per leaf, spilled included (≥ 1: empty leaves are not stored);
 *                             a shard's stored length follows from it (shardStoredBytes)
 *         u8 [L·16]           first 16 bytes of each shard's sha256: its KV key is
 *                             `blob/<32 hex>` of them, and readers check the
 *                             fetched text against the same bytes
 *    Memory: L·(leafPqM + 20) + G·(dim + 8) + 1024·dim + 2·dim² + 4·(dim + pqM
 *    + leafPqM) bytes, growing with n / leafSize; routingBudget() is the formula
 *    (docs/decisions.md#routing-size, docs/decisions.md#int16-codebooks-and-rotation).
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
 *    (query in float, items in codes). An item is in its own leaf and, when
 *    the build spills (SOAR, scripts/builder/training/spill.ts), once more in a second
 *    leaf; readers rank each key once.
 *
 * 3. ITEM record, `item/<16 hex>` (hex of the 8 key bytes above), JSON text:
 *      {"id": "...", "text": "...", "meta": {...}, "s": scale, "v": "<base64 i8[dim]>"}
 *    Round 2 reads the records of the best candidates in one bulk read — those
 *    within the manifest's rerankMargin of the k-th best PQ score, 2k to `rerank`
 *    of them (rerank-depth.ts) —
 *    re-scores them with their int8 vectors (whose error is far below the PQ
 *    codes'; docs/decisions.md#int8-item-records), and the best k
 *    are the answer, text and metadata included.
 *
 * 4. CATALOG — every item record's key and size, for deploys (what to upload,
 *    what to collect) and the bench's exact scan; never read by a query. Stored
 *    as parts like the routing (manifest.catalog[]). Concatenated:
 *      0  u32  magic "ESC2"
 *      4  u32  count
 *      8  count × [u8[8] item key, u32 record bytes]
 *
 * Metadata filters (lib/filter/) add three kinds, present only when the build
 * declared filterable columns (manifest.filters: the columns' names, types and
 * string dictionaries, and the FILTER TABLE's parts). Every filterable value is
 * stored as a float64 "encoded value" (lib/filter/values.ts: a date is its ms
 * since the epoch, a number itself, a string its dictionary index; NaN when the
 * item has none), so one comparison serves every type. Unfiltered queries read
 * none of them: their bytes are what they were without filters.
 *
 * 5. FILTER TABLE — kept in isolate memory next to the routing, stored as parts
 *    (manifest.filters.table[]). It lets a query skip leaves and find the items
 *    that match before reading any of them. Concatenated:
 *      0  u32  magic "ESF4"
 *      4  u16  columns C
 *      6  u16  reserved (0)
 *      8  u32  leaves  L      (the routing's)
 *     12  u32  chunks  K      column chunks, all columns, both orders
 *     16  u32  groups  G      (the routing's)
 *     20  u32  cells   N      each group's leaves split into neighbourhoods
 *                             (scripts/builder/training/cells.ts)
 *     24  f32[L·C]            per leaf and column, the smallest value, rounded down
 *         f32[L·C]            …and the largest, rounded up (+inf / −inf: none)
 *         u8 [L·16]           first 16 bytes of each leaf's ATTRIBUTES sha256
 *                             (key and check, as shards); its stored length
 *                             follows from the leaf's size (attributesStoredBytes)
 *         u8 [L]              each leaf's cell within its group (padded to 4 bytes)
 *         u32[G+1]            each group's first cell: leaf l of group g is in
 *                             cell groupCells[g] + leafCell[l]; the last entry is N
 *         u32[C+1]            value order: column c owns chunks chunkStart[c] ..
 *                             chunkStart[c+1]-1, its items by (value, cell, key);
 *                             chunkStart[C] = V is the first chunk in cell order
 *         u32[C·N+1]          cell order: column c's chunks of cell n are
 *                             cellChunkStart[c·N+n] .. cellChunkStart[c·N+n+1]-1;
 *                             the last entry is K
 *         f32[K]              each chunk's smallest value of its column, rounded down
 *         f32[K]              …and largest, rounded up
 *         u16[K]              entries per chunk; a chunk's stored length follows
 *                             from it (chunkStoredBytes)
 *         u16[V]              each value-order chunk's first entry's cell: a
 *                             chunk that holds one value (see the next field)
 *                             holds its cells from there to the next chunk's
 *                             first cell (the last cell N-1 at its column's end)
 *         u8 [⌈V/8⌉]          bit v (byte v>>3, bit v&7): value-order chunk v's
 *                             entries, and the next chunk's first entry if its
 *                             column has one, hold one value; unset, the chunk
 *                             may hold any cell (padded to 4 bytes)
 *         u8 [K·16]           first 16 bytes of each chunk's sha256
 *    Memory: L·(8C + 17) + K·26 + V·2.125 + 4·(G + C·N) bytes, small beside the
 *    routing (docs/decisions.md#filter-table-and-chunk-size,
 *    docs/decisions.md#value-chunks-in-cell-order).
 *
 * 6. ATTRIBUTES of one leaf, `blob/<sha>`: the filterable values of its shard's
 *    entries, read beside the shard (same round) when a query has a filter:
 *      0  u32  magic "ESA1"
 *      4  u16  columns C
 *      6  u16  reserved (0)
 *      8  u32  leaf
 *     12  u32  count
 *     16  f64[C·count]        column-major: entry e's value of column c at c·count + e
 *
 * 7. COLUMN CHUNK, `blob/<sha>`: the items that have a value in one column, in
 *    one of two orders, cut where an item key's hash says so (content-defined,
 *    so inserting an item changes one chunk, not every later one):
 *      value order — sorted by (value, item key). A selective filter reads only
 *        the chunks whose [min, max] meet its ranges and scores every matching
 *        item — no leaf can hide one;
 *      cell order — each cell's items (an item in the cell of its first leaf
 *        in the group whose centroid scores it higher) sorted by (value, item
 *        key), a cut at every cell's end. A filter whose value-order chunks are
 *        too many to read reads the chunks meeting it of the query's nearest
 *        cells (cells.ts), as far as its budget goes: entries near the query,
 *        mostly matches.
 *    Both orders hold the same entries:
 *      0  u32  magic "ESK1"
 *      4  u16  column
 *      6  u16  columns C
 *      8  u16  pqM
 *     10  u16  reserved (0)
 *     12  u32  count
 *     16  u8 [count · 8]      item keys (as in shards)
 *         u8 [count · pqM]    item PQ codes (as in shards)
 *         (padded to 8 bytes)
 *         f64[C·count]        every filterable value of the entries, column-major
 *
 * 8. RESIDENT BLOCK, `blob/<sha>` (manifest.resident.blocks[]): the item
 *    records again, packed for isolate memory. A build writes them only when
 *    all of them fit RESIDENT_MAX_BYTES (docs/decisions.md#resident-copy-budget); the
 *    Worker loads them in the background once a version is serving, and round 2
 *    then re-ranks from memory instead of KV. The answers are the same ones:
 *    same int8 vectors, same scales, same texts. Items in corpus order, cut into
 *    blocks where an item key's hash says so (as column chunks are), so an
 *    appended item changes the last block only. Each block:
 *      0  u32  magic "ESB1"
 *      4  u16  dim
 *      6  u16  reserved (0)
 *      8  u32  count
 *     12  u32  text bytes T
 *     16  u8 [count · 8]      item keys (as in shards)
 *         u32[count]          each record's stored size (UTF-8 bytes), so a
 *                             query's byte count reads as with KV
 *         f32[count]          int8 scale (the record's "s")
 *         i8 [count · dim]    int8 vector (the record's "v"), padded to 4 bytes
 *         u32[count + 1]      where each entry's JSON starts in the text
 *         u8 [T]              {"id","text","meta"} of each record, JSON, UTF-8
 *
 * The lexical index (lib/lexical/) adds three kinds, present when the build
 * wrote one (manifest.lexical). Items are analysed by lib/lexical/tokenize.ts
 * (NFKC, lower case, letters and digits, English stop words dropped, Porter
 * stems) and scored with BM25 (lib/lexical/bm25.ts): k1 = 1.2 (a second
 * occurrence of a term adds less than the first, a tenth adds little more) and
 * b = 0.75 (an item's length counts three quarters against its score), the
 * usual values; both are stored in the head, so the Worker scores with the
 * build's. A posting is (item key, tf, dl): its term's count in the item and
 * the item's length in terms, so any reader computes the exact BM25 of what it
 * reads, not a rounded impact.
 *
 * 9. LEXICON HEAD — kept in isolate memory, stored as parts like the routing
 *    (manifest.lexical.head[]). It names the lexicon parts by the first term
 *    hash each holds, so a query knows from memory which part holds each of its
 *    terms. Concatenated:
 *      0  u32  magic "ESL1"
 *      4  u32  parts P
 *      8  u32  items N        (BM25's N; every item, those without a term included)
 *     12  u32  prefix         postings each term keeps inline in its part, at most
 *     16  f64                 Σ dl: terms in every item (avgdl = Σ dl / N)
 *     24  f32  k1
 *     28  f32  b
 *     32  u32[P]              the smallest term hash of each part, ascending
 *         u32[P]              stored length of each part (base64 characters)
 *         u8 [P·16]           first 16 bytes of each part's sha256 (key and check)
 *    Memory: 32 + 24·P bytes (P grows with the vocabulary, not with the items).
 *
 * 10. LEXICON PART, `blob/<sha>`: the terms whose hash (FNV-1a of the UTF-8
 *    term) falls in its range, sorted by (hash, term), each with its document
 *    frequency and the first `prefix` postings of its list in impact order (the
 *    BM25 weight of the term in the item, highest first; ties by item key): a
 *    query reads its terms' parts in round 1, beside the vector shards, and has
 *    its lexical candidates — the top of every term's list, whatever the term's
 *    df — with no third round. The rest of a longer list is a TAIL (§11), named
 *    here and read only by exhaustive searches. Parts are cut after a term whose
 *    mixed hash is 0 mod the build's cut modulus (manifest.lexical.cut) (content-defined: a new term
 *    changes its own part, not its neighbours' boundaries).
 *      0  u32  magic "ESX1"
 *      4  u32  terms T
 *      8  u32  inline postings E
 *     12  u32  term text bytes W
 *     16  u32  tails R
 *     20  u32  reserved (0)
 *     24  u32[T]              term hash
 *         u32[T]              df
 *         u32[T + 1]          term t's inline postings are postingStart[t] .. [t+1]-1
 *         u32[T + 1]          term t's UTF-8 text is textStart[t] .. [t+1]-1
 *         u32[R]              the term each tail continues
 *         u32[R]              its stored length
 *         u32[R]              its postings
 *         u8 [R·16]           first 16 bytes of its sha256
 *         u8 [E·8]            item keys (as in shards)
 *         u16[E]              dl of each posting's item (capped at 65,535)
 *         u8 [E]              tf (capped at 255)
 *         u8 [W]              term texts, UTF-8
 *
 * 11. POSTINGS TAIL, `blob/<sha>`: a term's postings past its part's prefix, in
 *    the same impact order, for searches that read whole lists:
 *      0  u32  magic "EST1"
 *      4  u32  count
 *      8  u32  term hash
 *     12  u32  reserved (0)
 *     16  u8 [count·8]        item keys
 *         u16[count]          dl
 *         u8 [count]          tf
 *
 * 12. LEXICON DELTA — kept in isolate memory, stored as parts like the head
 *    (manifest.lexical.delta.parts), present when a build extended a base
 *    version's lexicon instead of rewriting it. The main lexicon (§9–11) is the
 *    base's, unchanged, so a small corpus change rewrites one small value, not
 *    the parts every changed term sits in. The delta holds the items the main
 *    lexicon lacks, every posting inline, and the main lexicon's items the
 *    corpus no longer has, which readers skip. N and Σ dl are the whole
 *    corpus's; a term's df is the main part's plus the delta's (a removed item
 *    still counts in df until a build rewrites the main lexicon, as Lucene's
 *    deleted documents do until a merge). A build rewrites the main lexicon
 *    once the delta would pass its budget (scripts/builder/packing/lexical-values.ts).
 *      0  u32  magic "ESD1"
 *      4  u32  items N         (the whole corpus: BM25's N)
 *      8  f64                  Σ dl of the whole corpus
 *     16  u32  removed X       main-lexicon items the corpus no longer has
 *     20  u32  delta items     items whose postings the delta holds
 *     24  u8 [X·8]             their item keys, ascending (bytewise)
 *         a LEXICON PART (§10) with every delta term, all postings inline, no tails
 *
 * Integrity: a value's KV key embeds its sha256 (blobs: 128 bits; item records:
 * 64 bits, checked against the build's keys for collisions). Readers verify
 * every value they fetch, and treat a mismatch or a missing value as an error,
 * never as a smaller answer.
 */
import { fromBase64, toBase64 } from "./base64.ts";
import { concat } from "./concat.ts";

export const ROUTING_MAGIC = 0x34525345; // "ESR4"
export const SHARD_MAGIC = 0x31505345; // "ESP1"
const SHARD_HEADER_BYTES = 16;
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

/**
 * A float matrix stored as int16, each row with a power-of-two scale: row r's
 * value j is values[r·cols + j] · scales[r]. The routing keeps its codebooks
 * and rotation this way, at half the isolate memory of float32; each value is
 * off by at most 2^-15 of its row's largest, far below the PQ codes' error, and
 * the build codes items with exactly these values (fromScaledRows in quantize.ts), so
 * nothing is scored with other numbers than those it was coded with
 * (docs/decisions.md#int16-codebooks-and-rotation).
 */
export interface ScaledRows {
  values: Int16Array;
  scales: Float32Array;
  cols: number;
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
  /** Leaf-centroid quantizer: leafPqM rows, one codebook each. */
  leafCodebooks: ScaledRows;
  /** Item quantizer: codebooks of rotated vectors (pqM rows), and the rotation (dim rows of dim). */
  codebooks: ScaledRows;
  rotation: ScaledRows;
  /** leaves × leafPqM */
  leafCodes: Uint8Array;
  leafSizes: Uint32Array;
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

function align8(n: number): number {
  return (n + 7) & ~7;
}

/** Byte offsets of every routing section, from its header fields alone. */
function routingLayout(dim: number, pqM: number, leafPqM: number, groups: number, leaves: number) {
  const groupScales = HEADER_BYTES;
  const groupCentroids = groupScales + 4 * groups;
  const groupStart = groupCentroids + align4(groups * dim);
  const leafCodebookScales = groupStart + 4 * (groups + 1);
  const codebookScales = leafCodebookScales + 4 * leafPqM;
  const rotationScales = codebookScales + 4 * pqM;
  const leafCodebooks = rotationScales + 4 * dim;
  const codebooks = leafCodebooks + align4(2 * PQ_CENTROIDS * dim);
  const rotation = codebooks + align4(2 * PQ_CENTROIDS * dim);
  const leafCodes = rotation + align4(2 * dim * dim);
  const leafSizes = leafCodes + align4(leaves * leafPqM);
  const shardHashes = leafSizes + 4 * leaves;
  const end = shardHashes + SHARD_HASH_BYTES * leaves;
  return { groupScales, groupCentroids, groupStart, leafCodebookScales, codebookScales, rotationScales, leafCodebooks, codebooks, rotation, leafCodes, leafSizes, shardHashes, end };
}

export function routingByteLength(dim: number, pqM: number, leafPqM: number, groups: number, leaves: number): number {
  return routingLayout(dim, pqM, leafPqM, groups, leaves).end;
}

/**
 * The routing's size for n items in leaves of `leafSize` (about sqrt(leaves)
 * groups): the in-isolate cost of an index, used by the build to size leaves.
 */
export function routingBudget(n: number, leafSize: number, dim: number, pqM: number, leafPqM: number): number {
  const leaves = Math.ceil(n / leafSize);
  return routingByteLength(dim, pqM, leafPqM, Math.ceil(Math.sqrt(leaves)), leaves);
}

export function encodeRouting(r: Routing): Uint8Array {
  const { dim, pqM, leafPqM, groups, leaves } = r;
  if (dim % pqM !== 0 || dim % leafPqM !== 0) throw new FormatError(`dim ${dim} is not a multiple of pqM ${pqM} and leafPqM ${leafPqM}`);
  if (r.groupStart[groups] !== leaves) throw new FormatError("the groups do not cover every leaf");
  const at = routingLayout(dim, pqM, leafPqM, groups, leaves);
  const shapes: Array<[string, ScaledRows, number, number]> = [
    ["leaf codebooks", r.leafCodebooks, leafPqM, PQ_CENTROIDS * dim],
    ["item codebooks", r.codebooks, pqM, PQ_CENTROIDS * dim],
    ["rotation", r.rotation, dim, dim * dim],
  ];
  for (const [what, m, rows, length] of shapes) {
    if (m.scales.length !== rows || m.values.length !== length || m.cols * rows !== length) throw new FormatError(`routing: the ${what} are not ${rows} rows of ${length / rows}`);
  }
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
  new Float32Array(buf, at.leafCodebookScales, leafPqM).set(r.leafCodebooks.scales);
  new Float32Array(buf, at.codebookScales, pqM).set(r.codebooks.scales);
  new Float32Array(buf, at.rotationScales, dim).set(r.rotation.scales);
  new Int16Array(buf, at.leafCodebooks, PQ_CENTROIDS * dim).set(r.leafCodebooks.values);
  new Int16Array(buf, at.codebooks, PQ_CENTROIDS * dim).set(r.codebooks.values);
  new Int16Array(buf, at.rotation, dim * dim).set(r.rotation.values);
  new Uint8Array(buf, at.leafCodes, leaves * leafPqM).set(r.leafCodes);
  new Uint32Array(buf, at.leafSizes, leaves).set(r.leafSizes);
  new Uint8Array(buf, at.shardHashes, leaves * SHARD_HASH_BYTES).set(r.shardHashes);
  return new Uint8Array(buf);
}

/** Typed views need 4-byte alignment (8 for f64): copy only when the input lacks it. */
function aligned(bytes: Uint8Array, align = 4): { buf: ArrayBuffer; base: number } {
  if (bytes.byteOffset % align === 0) return { buf: bytes.buffer as ArrayBuffer, base: bytes.byteOffset };
  return { buf: bytes.slice().buffer as ArrayBuffer, base: 0 };
}

/** A view on a value whose header is checked: long enough for the header, the kind's magic number first. */
function headerView(bytes: Uint8Array, headerBytes: number, magic: number, what: string): DataView {
  if (bytes.byteLength < headerBytes) throw new FormatError(`${what} is truncated`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== magic) throw new FormatError(`${what} has a bad magic number`);
  return view;
}

/** headerView, on the value's bytes aligned for typed views. */
function openValue(bytes: Uint8Array, headerBytes: number, magic: number, what: string, align = 4): { buf: ArrayBuffer; base: number; view: DataView } {
  headerView(bytes, headerBytes, magic, what);
  const { buf, base } = aligned(bytes, align);
  return { buf, base, view: new DataView(buf, base, bytes.byteLength) };
}

export function decodeRouting(bytes: Uint8Array): Routing {
  const { buf, base, view } = openValue(bytes, HEADER_BYTES, ROUTING_MAGIC, "routing");
  const dim = view.getUint16(4, true);
  const pqM = view.getUint16(6, true);
  const groups = view.getUint32(8, true);
  const leaves = view.getUint32(12, true);
  const leafPqM = view.getUint16(16, true);
  if (!dim || !pqM || !leafPqM || dim % pqM !== 0 || dim % leafPqM !== 0) throw new FormatError(`routing: bad dim ${dim} / pqM ${pqM} / leafPqM ${leafPqM}`);
  if (!groups || groups > leaves) throw new FormatError(`routing: bad group count ${groups} for ${leaves} leaves`);
  const at = routingLayout(dim, pqM, leafPqM, groups, leaves);
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
    leafCodebooks: { values: new Int16Array(buf, base + at.leafCodebooks, PQ_CENTROIDS * dim), scales: new Float32Array(buf, base + at.leafCodebookScales, leafPqM), cols: (PQ_CENTROIDS * dim) / leafPqM },
    codebooks: { values: new Int16Array(buf, base + at.codebooks, PQ_CENTROIDS * dim), scales: new Float32Array(buf, base + at.codebookScales, pqM), cols: (PQ_CENTROIDS * dim) / pqM },
    rotation: { values: new Int16Array(buf, base + at.rotation, dim * dim), scales: new Float32Array(buf, base + at.rotationScales, dim), cols: dim },
    leafCodes: new Uint8Array(buf, base + at.leafCodes, leaves * leafPqM),
    leafSizes: new Uint32Array(buf, base + at.leafSizes, leaves),
    shardHashes: new Uint8Array(buf, base + at.shardHashes, leaves * SHARD_HASH_BYTES),
  };
  for (let g = 0; g < groups; g++) {
    if (r.groupStart[g] > r.groupStart[g + 1]) throw new FormatError(`routing: group ${g} has a negative leaf range`);
  }
  if (r.groupStart[0] !== 0 || r.groupStart[groups] !== leaves) throw new FormatError("routing: the groups do not cover every leaf");
  return r;
}

/** Stored length (base64) of a leaf's shard: its layout is fixed by pqM and the leaf's entries, so the routing need not hold it. */
export function shardStoredBytes(r: Routing, leaf: number): number {
  return shardStoredLength(r.leafSizes[leaf], r.pqM);
}

export function shardStoredLength(count: number, pqM: number): number {
  return 4 * Math.ceil((SHARD_HEADER_BYTES + count * (ITEM_KEY_BYTES + pqM)) / 3);
}

/** KV key of leaf `leaf`'s shard. */
export function shardKey(r: Routing, leaf: number): string {
  return `blob/${hex(r.shardHashes, leaf * SHARD_HASH_BYTES, (leaf + 1) * SHARD_HASH_BYTES)}`;
}

export function encodeShard(s: Shard): Uint8Array {
  const out = new Uint8Array(SHARD_HEADER_BYTES + s.count * (ITEM_KEY_BYTES + s.pqM));
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
  const view = headerView(bytes, 16, SHARD_MAGIC, "shard");
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
  const view = headerView(bytes, CATALOG_HEADER_BYTES, CATALOG_MAGIC, "catalog");
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

export const FILTER_TABLE_MAGIC = 0x34465345; // "ESF4"
export const ATTRIBUTES_MAGIC = 0x31415345; // "ESA1"
export const CHUNK_MAGIC = 0x314b5345; // "ESK1"
const FILTER_HEADER_BYTES = 24;
const ATTRIBUTES_HEADER_BYTES = 16;
const CHUNK_HEADER_BYTES = 16;
/** A chunk's entries at most: chunkCount is a Uint16. */
export const MAX_CHUNK_ENTRIES = 0xffff;
/** Cells of one group at most: leafCell is a Uint8. */
export const MAX_GROUP_CELLS = 0x100;
/** Cells at most: chunkCell is a Uint16. */
export const MAX_CELLS = 0x10000;

export interface FilterTable {
  columns: number;
  leaves: number;
  chunks: number;
  groups: number;
  /** Cells: each group's leaves split into neighbourhoods (build's cells.ts), numbered group by group. */
  cells: number;
  /** leaves × columns, leaf-major; +inf/−inf when a leaf has no value in a column. */
  leafMin: Float32Array;
  leafMax: Float32Array;
  /** leaves × SHARD_HASH_BYTES */
  attrHashes: Uint8Array;
  /** Each leaf's cell within its group: its cell is groupCells[group] + leafCell[leaf]. */
  leafCell: Uint8Array;
  /** groups + 1: the first cell of each group. */
  groupCells: Uint32Array;
  /** columns + 1: value-order chunks of each column. */
  chunkStart: Uint32Array;
  /** columns × cells + 1: cell-order chunks of each column and cell. */
  cellChunkStart: Uint32Array;
  /** float32 bounds that contain the chunk's values (min rounded down, max up). */
  chunkMin: Float32Array;
  chunkMax: Float32Array;
  chunkCount: Uint16Array;
  /** Value-order chunks (chunkStart[columns] of them): the cell of each one's first entry. */
  chunkCell: Uint16Array;
  /** Value-order chunks, a bit each (chunkHoldsOneValue): its entries and the next chunk's first hold one value. */
  chunkOneValue: Uint8Array;
  /** chunks × SHARD_HASH_BYTES */
  chunkHashes: Uint8Array;
}

/** Whether value-order chunk v's entries, and the next chunk's first entry when its column has one, hold one value. */
export function chunkHoldsOneValue(t: FilterTable, v: number): boolean {
  return (t.chunkOneValue[v >> 3] & (1 << (v & 7))) !== 0;
}

export interface Attributes {
  leaf: number;
  columns: number;
  count: number;
  /** columns × count, column-major */
  values: Float64Array;
}

export interface ColumnChunk {
  column: number;
  columns: number;
  pqM: number;
  count: number;
  keys: Uint8Array;
  codes: Uint8Array;
  /** columns × count, column-major */
  values: Float64Array;
}

function filterTableLayout(columns: number, leaves: number, chunks: number, groups: number, cells: number, valueChunks: number) {
  const leafMin = FILTER_HEADER_BYTES;
  const leafMax = leafMin + 4 * leaves * columns;
  const attrHashes = leafMax + 4 * leaves * columns;
  const leafCell = attrHashes + SHARD_HASH_BYTES * leaves;
  const groupCells = align4(leafCell + leaves);
  const chunkStart = groupCells + 4 * (groups + 1);
  const cellChunkStart = chunkStart + 4 * (columns + 1);
  const chunkMin = cellChunkStart + 4 * (columns * cells + 1);
  const chunkMax = chunkMin + 4 * chunks;
  const chunkCount = chunkMax + 4 * chunks;
  const chunkCell = chunkCount + 2 * chunks;
  const chunkOneValue = chunkCell + 2 * valueChunks;
  const chunkHashes = align4(chunkOneValue + Math.ceil(valueChunks / 8));
  const end = chunkHashes + SHARD_HASH_BYTES * chunks;
  return { leafMin, leafMax, attrHashes, leafCell, groupCells, chunkStart, cellChunkStart, chunkMin, chunkMax, chunkCount, chunkCell, chunkOneValue, chunkHashes, end };
}

export function encodeFilterTable(t: FilterTable): Uint8Array {
  const { columns, leaves, chunks, groups, cells } = t;
  checkFilterTable(t);
  const valueChunks = t.chunkStart[columns];
  const at = filterTableLayout(columns, leaves, chunks, groups, cells, valueChunks);
  const buf = new ArrayBuffer(at.end);
  const view = new DataView(buf);
  view.setUint32(0, FILTER_TABLE_MAGIC, true);
  view.setUint16(4, columns, true);
  view.setUint32(8, leaves, true);
  view.setUint32(12, chunks, true);
  view.setUint32(16, groups, true);
  view.setUint32(20, cells, true);
  new Float32Array(buf, at.leafMin, leaves * columns).set(t.leafMin);
  new Float32Array(buf, at.leafMax, leaves * columns).set(t.leafMax);
  new Uint8Array(buf, at.attrHashes, leaves * SHARD_HASH_BYTES).set(t.attrHashes);
  new Uint8Array(buf, at.leafCell, leaves).set(t.leafCell);
  new Uint32Array(buf, at.groupCells, groups + 1).set(t.groupCells);
  new Uint32Array(buf, at.chunkStart, columns + 1).set(t.chunkStart);
  new Uint32Array(buf, at.cellChunkStart, columns * cells + 1).set(t.cellChunkStart);
  new Float32Array(buf, at.chunkMin, chunks).set(t.chunkMin);
  new Float32Array(buf, at.chunkMax, chunks).set(t.chunkMax);
  new Uint16Array(buf, at.chunkCount, chunks).set(t.chunkCount);
  new Uint16Array(buf, at.chunkCell, valueChunks).set(t.chunkCell);
  new Uint8Array(buf, at.chunkOneValue, Math.ceil(valueChunks / 8)).set(t.chunkOneValue);
  new Uint8Array(buf, at.chunkHashes, chunks * SHARD_HASH_BYTES).set(t.chunkHashes);
  return new Uint8Array(buf);
}

export function decodeFilterTable(bytes: Uint8Array): FilterTable {
  const { buf, base, view } = openValue(bytes, FILTER_HEADER_BYTES, FILTER_TABLE_MAGIC, "filter table");
  const columns = view.getUint16(4, true);
  const leaves = view.getUint32(8, true);
  const chunks = view.getUint32(12, true);
  const groups = view.getUint32(16, true);
  const cells = view.getUint32(20, true);
  // Where value order ends (chunkStart[columns]) sizes two fields after it: read it first.
  const chunkStartAt = filterTableLayout(columns, leaves, chunks, groups, cells, 0).chunkStart + 4 * columns;
  if (bytes.byteLength < chunkStartAt + 4) throw new FormatError(`filter table is ${bytes.byteLength} bytes, too short for its ${columns} columns`);
  const valueChunks = view.getUint32(chunkStartAt, true);
  if (valueChunks > chunks) throw new FormatError(`filter table: ${valueChunks} value-order chunks of ${chunks}`);
  const at = filterTableLayout(columns, leaves, chunks, groups, cells, valueChunks);
  if (bytes.byteLength !== at.end) throw new FormatError(`filter table is ${bytes.byteLength} bytes, expected ${at.end}`);
  const t: FilterTable = {
    columns,
    leaves,
    chunks,
    groups,
    cells,
    leafMin: new Float32Array(buf, base + at.leafMin, leaves * columns),
    leafMax: new Float32Array(buf, base + at.leafMax, leaves * columns),
    attrHashes: new Uint8Array(buf, base + at.attrHashes, leaves * SHARD_HASH_BYTES),
    leafCell: new Uint8Array(buf, base + at.leafCell, leaves),
    groupCells: new Uint32Array(buf, base + at.groupCells, groups + 1),
    chunkStart: new Uint32Array(buf, base + at.chunkStart, columns + 1),
    cellChunkStart: new Uint32Array(buf, base + at.cellChunkStart, columns * cells + 1),
    chunkMin: new Float32Array(buf, base + at.chunkMin, chunks),
    chunkMax: new Float32Array(buf, base + at.chunkMax, chunks),
    chunkCount: new Uint16Array(buf, base + at.chunkCount, chunks),
    chunkCell: new Uint16Array(buf, base + at.chunkCell, valueChunks),
    chunkOneValue: new Uint8Array(buf, base + at.chunkOneValue, Math.ceil(valueChunks / 8)),
    chunkHashes: new Uint8Array(buf, base + at.chunkHashes, chunks * SHARD_HASH_BYTES),
  };
  checkFilterTable(t);
  return t;
}

/** Value order, then cell order, cover chunks 0 .. K-1 in ascending ranges; the groups' cells cover 0 .. cells-1. */
function checkFilterTable(t: FilterTable): void {
  const { columns, cells, chunks, chunkStart, cellChunkStart, groupCells, groups } = t;
  if (chunkStart[0] !== 0 || cellChunkStart[0] !== chunkStart[columns] || cellChunkStart[columns * cells] !== chunks) {
    throw new FormatError("filter table: the columns do not cover every chunk");
  }
  for (let c = 0; c < columns; c++) if (chunkStart[c] > chunkStart[c + 1]) throw new FormatError(`filter table: column ${c} has a negative chunk range`);
  for (let i = 0; i < columns * cells; i++) if (cellChunkStart[i] > cellChunkStart[i + 1]) throw new FormatError(`filter table: cell range ${i} is negative`);
  if (groupCells[0] !== 0 || groupCells[groups] !== cells) throw new FormatError("filter table: the groups' cells do not cover every cell");
  for (let g = 0; g < groups; g++) {
    const n = groupCells[g + 1] - groupCells[g];
    if (groupCells[g] > groupCells[g + 1] || n > MAX_GROUP_CELLS) throw new FormatError(`filter table: group ${g} has ${n} cells`);
  }
  if (cells > MAX_CELLS) throw new FormatError(`filter table: ${cells} cells, more than ${MAX_CELLS}`);
  const valueChunks = chunkStart[columns];
  if (t.chunkCell.length !== valueChunks || t.chunkOneValue.length !== Math.ceil(valueChunks / 8)) throw new FormatError("filter table: the value-order chunks' cells do not match their count");
  for (let v = 0; v < valueChunks; v++) if (t.chunkCell[v] >= cells) throw new FormatError(`filter table: value-order chunk ${v} starts in cell ${t.chunkCell[v]} of ${cells}`);
}

/** Stored length (base64) of a column chunk: its layout is fixed by the columns, pqM and its entry count. */
export function chunkStoredBytes(t: FilterTable, chunk: number, pqM: number): number {
  return chunkStoredLength(t.columns, t.chunkCount[chunk], pqM);
}

export function chunkStoredLength(columns: number, count: number, pqM: number): number {
  return 4 * Math.ceil((chunkValuesOffset(count, pqM) + 8 * columns * count) / 3);
}

/** Stored length (base64) of a leaf's ATTRIBUTES value: its layout is fixed by the columns and the leaf's entries. */
export function attributesStoredBytes(columns: number, count: number): number {
  return 4 * Math.ceil((ATTRIBUTES_HEADER_BYTES + 8 * columns * count) / 3);
}

/** KV keys of a leaf's attributes and of a column chunk. */
export function attributesKey(t: FilterTable, leaf: number): string {
  return `blob/${hex(t.attrHashes, leaf * SHARD_HASH_BYTES, (leaf + 1) * SHARD_HASH_BYTES)}`;
}

export function chunkKey(t: FilterTable, chunk: number): string {
  return `blob/${hex(t.chunkHashes, chunk * SHARD_HASH_BYTES, (chunk + 1) * SHARD_HASH_BYTES)}`;
}

export function encodeAttributes(a: Attributes): Uint8Array {
  const buf = new ArrayBuffer(ATTRIBUTES_HEADER_BYTES + 8 * a.columns * a.count);
  const view = new DataView(buf);
  view.setUint32(0, ATTRIBUTES_MAGIC, true);
  view.setUint16(4, a.columns, true);
  view.setUint32(8, a.leaf, true);
  view.setUint32(12, a.count, true);
  new Float64Array(buf, ATTRIBUTES_HEADER_BYTES, a.columns * a.count).set(a.values.subarray(0, a.columns * a.count));
  return new Uint8Array(buf);
}

export function decodeAttributes(bytes: Uint8Array): Attributes {
  const view = headerView(bytes, ATTRIBUTES_HEADER_BYTES, ATTRIBUTES_MAGIC, "leaf attributes value");
  const columns = view.getUint16(4, true);
  const leaf = view.getUint32(8, true);
  const count = view.getUint32(12, true);
  if (bytes.byteLength !== ATTRIBUTES_HEADER_BYTES + 8 * columns * count) throw new FormatError(`attributes of leaf ${leaf} have the wrong length`);
  return { leaf, columns, count, values: float64s(bytes, ATTRIBUTES_HEADER_BYTES, columns * count) };
}

function chunkValuesOffset(count: number, pqM: number): number {
  return align8(CHUNK_HEADER_BYTES + count * (ITEM_KEY_BYTES + pqM));
}

export function encodeColumnChunk(c: ColumnChunk): Uint8Array {
  const valuesAt = chunkValuesOffset(c.count, c.pqM);
  const buf = new ArrayBuffer(valuesAt + 8 * c.columns * c.count);
  const view = new DataView(buf);
  const out = new Uint8Array(buf);
  view.setUint32(0, CHUNK_MAGIC, true);
  view.setUint16(4, c.column, true);
  view.setUint16(6, c.columns, true);
  view.setUint16(8, c.pqM, true);
  view.setUint32(12, c.count, true);
  out.set(c.keys.subarray(0, c.count * ITEM_KEY_BYTES), CHUNK_HEADER_BYTES);
  out.set(c.codes.subarray(0, c.count * c.pqM), CHUNK_HEADER_BYTES + c.count * ITEM_KEY_BYTES);
  new Float64Array(buf, valuesAt, c.columns * c.count).set(c.values.subarray(0, c.columns * c.count));
  return out;
}

export function decodeColumnChunk(bytes: Uint8Array): ColumnChunk {
  const view = headerView(bytes, CHUNK_HEADER_BYTES, CHUNK_MAGIC, "column chunk");
  const column = view.getUint16(4, true);
  const columns = view.getUint16(6, true);
  const pqM = view.getUint16(8, true);
  const count = view.getUint32(12, true);
  const valuesAt = chunkValuesOffset(count, pqM);
  if (column >= columns || bytes.byteLength !== valuesAt + 8 * columns * count) throw new FormatError(`column chunk of column ${column} has the wrong length`);
  const keys = bytes.subarray(CHUNK_HEADER_BYTES, CHUNK_HEADER_BYTES + count * ITEM_KEY_BYTES);
  const codes = bytes.subarray(CHUNK_HEADER_BYTES + count * ITEM_KEY_BYTES, CHUNK_HEADER_BYTES + count * (ITEM_KEY_BYTES + pqM));
  return { column, columns, pqM, count, keys, codes, values: float64s(bytes, valuesAt, columns * count) };
}

/** A Float64Array over `bytes` from `offset`, copied only when unaligned. */
function float64s(bytes: Uint8Array, offset: number, n: number): Float64Array {
  const at = bytes.byteOffset + offset;
  if (at % 8 === 0) return new Float64Array(bytes.buffer, at, n);
  return new Float64Array(bytes.slice(offset, offset + 8 * n).buffer);
}

export const RESIDENT_MAGIC = 0x31425345; // "ESB1"
const RESIDENT_HEADER_BYTES = 16;

/** A resident block decoded: typed views over its bytes, texts decoded one at a time. */
export interface ResidentBlock {
  dim: number;
  count: number;
  keys: Uint8Array;
  recordBytes: Uint32Array;
  scales: Float32Array;
  vectors: Int8Array;
  textStart: Uint32Array;
  text: Uint8Array;
}

/** What the build packs: one entry per record, in order. */
export interface ResidentEntries {
  dim: number;
  keys: Uint8Array;
  recordBytes: ArrayLike<number>;
  scales: ArrayLike<number>;
  vectors: Int8Array;
  records: Array<Pick<ItemRecord, "id" | "text" | "meta">>;
}

function residentLayout(dim: number, count: number, textBytes: number) {
  const keys = RESIDENT_HEADER_BYTES;
  const recordBytes = keys + count * ITEM_KEY_BYTES;
  const scales = recordBytes + 4 * count;
  const vectors = scales + 4 * count;
  const textStart = align4(vectors + count * dim);
  const text = textStart + 4 * (count + 1);
  return { keys, recordBytes, scales, vectors, textStart, text, end: text + textBytes };
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export function encodeResidentBlock(e: ResidentEntries): Uint8Array {
  const count = e.records.length;
  const { dim } = e;
  if (e.keys.length !== count * ITEM_KEY_BYTES || e.vectors.length !== count * dim || e.scales.length !== count || e.recordBytes.length !== count) {
    throw new FormatError("resident block: keys, sizes, scales and vectors must have one entry per record");
  }
  const texts = e.records.map((r) => utf8.encode(JSON.stringify({ id: r.id, text: r.text, meta: r.meta })));
  const textBytes = texts.reduce((s, t) => s + t.length, 0);
  const at = residentLayout(dim, count, textBytes);
  const buf = new ArrayBuffer(at.end);
  const view = new DataView(buf);
  view.setUint32(0, RESIDENT_MAGIC, true);
  view.setUint16(4, dim, true);
  view.setUint32(8, count, true);
  view.setUint32(12, textBytes, true);
  const out = new Uint8Array(buf);
  out.set(e.keys, at.keys);
  new Uint32Array(buf, at.recordBytes, count).set(e.recordBytes);
  new Float32Array(buf, at.scales, count).set(e.scales);
  new Int8Array(buf, at.vectors, count * dim).set(e.vectors);
  const starts = new Uint32Array(buf, at.textStart, count + 1);
  let o = 0;
  texts.forEach((t, i) => {
    starts[i] = o;
    out.set(t, at.text + o);
    o += t.length;
  });
  starts[count] = o;
  return out;
}

export function decodeResidentBlock(bytes: Uint8Array): ResidentBlock {
  const { buf, base, view } = openValue(bytes, RESIDENT_HEADER_BYTES, RESIDENT_MAGIC, "resident block");
  const dim = view.getUint16(4, true);
  const count = view.getUint32(8, true);
  const textBytes = view.getUint32(12, true);
  const at = residentLayout(dim, count, textBytes);
  if (!dim || bytes.byteLength !== at.end) throw new FormatError(`resident block is ${bytes.byteLength} bytes, expected ${at.end} for ${count} records of dim ${dim}`);
  const block: ResidentBlock = {
    dim,
    count,
    keys: new Uint8Array(buf, base + at.keys, count * ITEM_KEY_BYTES),
    recordBytes: new Uint32Array(buf, base + at.recordBytes, count),
    scales: new Float32Array(buf, base + at.scales, count),
    vectors: new Int8Array(buf, base + at.vectors, count * dim),
    textStart: new Uint32Array(buf, base + at.textStart, count + 1),
    text: new Uint8Array(buf, base + at.text, textBytes),
  };
  for (let i = 0; i < count; i++) {
    if (block.textStart[i] > block.textStart[i + 1]) throw new FormatError(`resident block: entry ${i} has a negative text range`);
  }
  if (block.textStart[0] !== 0 || block.textStart[count] !== textBytes) throw new FormatError("resident block: the texts do not cover the text section");
  return block;
}

/** Entry e's id, text and metadata; a malformed entry is a FormatError. */
export function residentRecord(b: ResidentBlock, e: number): Pick<ItemRecord, "id" | "text" | "meta"> {
  let r: Pick<ItemRecord, "id" | "text" | "meta">;
  try {
    r = JSON.parse(fromUtf8.decode(b.text.subarray(b.textStart[e], b.textStart[e + 1])));
  } catch {
    throw new FormatError(`resident block: entry ${e} is not JSON`);
  }
  if (typeof r?.id !== "string" || typeof r.text !== "string") throw new FormatError(`resident block: entry ${e} is not a record`);
  return { id: r.id, text: r.text, meta: r.meta ?? {} };
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

/** Half 0 (the first 4 bytes) or 1 (the last 4) of entry `entry`'s item key, as a big-endian u32: keys are sha256 prefixes, so either is uniform. */
export function keyHalf(keyBytes: Uint8Array, entry: number, half: 0 | 1): number {
  const o = entry * ITEM_KEY_BYTES + half * 4;
  return ((keyBytes[o] << 24) | (keyBytes[o + 1] << 16) | (keyBytes[o + 2] << 8) | keyBytes[o + 3]) >>> 0;
}

export function itemKey(keyBytes: Uint8Array, entry: number): string {
  return `item/${hex(keyBytes, entry * ITEM_KEY_BYTES, (entry + 1) * ITEM_KEY_BYTES)}`;
}

/** KV values are text so that bulk reads can fetch them. */
export const blobToText = toBase64;
export const textToBlob = fromBase64;

export const LEXICON_HEAD_MAGIC = 0x314c5345; // "ESL1"
export const LEXICON_PART_MAGIC = 0x31585345; // "ESX1"
export const POSTINGS_TAIL_MAGIC = 0x31545345; // "EST1"
export const LEXICON_DELTA_MAGIC = 0x31445345; // "ESD1"
const LEXICON_HEAD_BYTES = 32;
const LEXICON_PART_HEADER_BYTES = 24;
const TAIL_HEADER_BYTES = 16;
const LEXICON_DELTA_HEADER_BYTES = 24;
/** Bytes of one posting: item key, dl (u16), tf (u8). */
export const POSTING_BYTES = ITEM_KEY_BYTES + 3;
export const MAX_TF = 255;
export const MAX_DL = 65535;

export interface LexiconHead {
  parts: number;
  items: number;
  prefix: number;
  totalTerms: number;
  k1: number;
  b: number;
  /** parts: the smallest term hash each part holds, ascending. */
  firstHash: Uint32Array;
  partBytes: Uint32Array;
  /** parts × SHARD_HASH_BYTES */
  partHashes: Uint8Array;
}

/** A run of postings: item keys with their tf and dl, in impact order. */
export interface Postings {
  count: number;
  keys: Uint8Array;
  dl: Uint16Array;
  tf: Uint8Array;
}

export interface LexiconPart {
  terms: number;
  hashes: Uint32Array;
  df: Uint32Array;
  postingStart: Uint32Array;
  textStart: Uint32Array;
  text: Uint8Array;
  tailTerm: Uint32Array;
  tailBytes: Uint32Array;
  tailCount: Uint32Array;
  /** tails × SHARD_HASH_BYTES */
  tailHashes: Uint8Array;
  postings: Postings;
}

/** What the build writes of a part: terms in (hash, text) order with their df, inline postings and tail. */
export interface LexiconPartInput {
  terms: Array<{ text: string; hash: number; df: number; postings: Postings; tail: { bytes: number; count: number; sha: Uint8Array } | null }>;
}

export interface PostingsTail {
  termHash: number;
  postings: Postings;
}

function lexiconHeadLayout(parts: number) {
  const firstHash = LEXICON_HEAD_BYTES;
  const partBytes = firstHash + 4 * parts;
  const partHashes = partBytes + 4 * parts;
  return { firstHash, partBytes, partHashes, end: partHashes + SHARD_HASH_BYTES * parts };
}

export function encodeLexiconHead(h: LexiconHead): Uint8Array {
  const at = lexiconHeadLayout(h.parts);
  const buf = new ArrayBuffer(at.end);
  const view = new DataView(buf);
  view.setUint32(0, LEXICON_HEAD_MAGIC, true);
  view.setUint32(4, h.parts, true);
  view.setUint32(8, h.items, true);
  view.setUint32(12, h.prefix, true);
  view.setFloat64(16, h.totalTerms, true);
  view.setFloat32(24, h.k1, true);
  view.setFloat32(28, h.b, true);
  for (let p = 1; p < h.parts; p++) if (h.firstHash[p] <= h.firstHash[p - 1]) throw new FormatError("lexicon head: part hashes must ascend");
  new Uint32Array(buf, at.firstHash, h.parts).set(h.firstHash);
  new Uint32Array(buf, at.partBytes, h.parts).set(h.partBytes);
  new Uint8Array(buf, at.partHashes, h.parts * SHARD_HASH_BYTES).set(h.partHashes);
  return new Uint8Array(buf);
}

export function decodeLexiconHead(bytes: Uint8Array): LexiconHead {
  const { buf, base, view } = openValue(bytes, LEXICON_HEAD_BYTES, LEXICON_HEAD_MAGIC, "lexicon head", 8);
  const parts = view.getUint32(4, true);
  const at = lexiconHeadLayout(parts);
  if (bytes.byteLength !== at.end) throw new FormatError(`lexicon head is ${bytes.byteLength} bytes, expected ${at.end} for ${parts} parts`);
  const h: LexiconHead = {
    parts,
    items: view.getUint32(8, true),
    prefix: view.getUint32(12, true),
    totalTerms: view.getFloat64(16, true),
    k1: view.getFloat32(24, true),
    b: view.getFloat32(28, true),
    firstHash: new Uint32Array(buf, base + at.firstHash, parts),
    partBytes: new Uint32Array(buf, base + at.partBytes, parts),
    partHashes: new Uint8Array(buf, base + at.partHashes, parts * SHARD_HASH_BYTES),
  };
  if (!(h.k1 >= 0) || !(h.b >= 0 && h.b <= 1) || !(h.totalTerms >= 0) || h.prefix < 1) throw new FormatError("lexicon head: k1, b, prefix or Σ dl out of range");
  for (let p = 1; p < parts; p++) if (h.firstHash[p] <= h.firstHash[p - 1]) throw new FormatError("lexicon head: part hashes do not ascend");
  return h;
}

/** The part that holds a term of hash `hash` (if any part does): the last whose first hash is ≤ it. */
export function lexiconPartOf(h: LexiconHead, hash: number): number {
  let a = 0;
  let b = h.parts - 1;
  if (h.parts === 0 || hash < h.firstHash[0]) return -1;
  while (a < b) {
    const m = (a + b + 1) >>> 1;
    if (h.firstHash[m] <= hash) a = m;
    else b = m - 1;
  }
  return a;
}

export function lexiconPartKey(h: LexiconHead, part: number): string {
  return `blob/${hex(h.partHashes, part * SHARD_HASH_BYTES, (part + 1) * SHARD_HASH_BYTES)}`;
}

function postingsLayout(at: number, count: number) {
  const keys = at;
  const dl = keys + count * ITEM_KEY_BYTES; // keys are 8 bytes each: dl stays 2-aligned
  const tf = dl + 2 * count;
  return { keys, dl, tf, end: tf + count };
}

function lexiconPartLayout(terms: number, postings: number, textBytes: number, tails: number) {
  const hashes = LEXICON_PART_HEADER_BYTES;
  const df = hashes + 4 * terms;
  const postingStart = df + 4 * terms;
  const textStart = postingStart + 4 * (terms + 1);
  const tailTerm = textStart + 4 * (terms + 1);
  const tailBytes = tailTerm + 4 * tails;
  const tailCount = tailBytes + 4 * tails;
  const tailHashes = tailCount + 4 * tails;
  const p = postingsLayout(tailHashes + SHARD_HASH_BYTES * tails, postings);
  const text = p.end;
  return { hashes, df, postingStart, textStart, tailTerm, tailBytes, tailCount, tailHashes, keys: p.keys, dl: p.dl, tf: p.tf, text, end: text + textBytes };
}

function checkPostings(p: Postings, what: string): void {
  if (p.keys.length !== p.count * ITEM_KEY_BYTES || p.dl.length !== p.count || p.tf.length !== p.count) throw new FormatError(`${what}: keys, dl and tf must have one entry per posting`);
  for (let i = 0; i < p.count; i++) if (p.tf[i] < 1) throw new FormatError(`${what}: posting ${i} has tf 0`);
}

export function encodeLexiconPart(input: LexiconPartInput): Uint8Array {
  const terms = input.terms;
  const texts = terms.map((t) => utf8.encode(t.text));
  const T = terms.length;
  const E = terms.reduce((s, t) => s + t.postings.count, 0);
  const W = texts.reduce((s, t) => s + t.length, 0);
  const tails = terms.flatMap((t, i) => (t.tail ? [{ i, ...t.tail }] : []));
  const at = lexiconPartLayout(T, E, W, tails.length);
  const buf = new ArrayBuffer(at.end);
  const view = new DataView(buf);
  const out = new Uint8Array(buf);
  view.setUint32(0, LEXICON_PART_MAGIC, true);
  view.setUint32(4, T, true);
  view.setUint32(8, E, true);
  view.setUint32(12, W, true);
  view.setUint32(16, tails.length, true);
  const hashes = new Uint32Array(buf, at.hashes, T);
  const df = new Uint32Array(buf, at.df, T);
  const postingStart = new Uint32Array(buf, at.postingStart, T + 1);
  const textStart = new Uint32Array(buf, at.textStart, T + 1);
  const dl = new Uint16Array(buf, at.dl, E);
  const tf = new Uint8Array(buf, at.tf, E);
  let e = 0;
  let w = 0;
  terms.forEach((t, i) => {
    if (i > 0 && (t.hash < terms[i - 1].hash || (t.hash === terms[i - 1].hash && t.text <= terms[i - 1].text))) throw new FormatError("lexicon part: terms must be sorted by (hash, text), each once");
    checkPostings(t.postings, `lexicon part, term "${t.text}"`);
    if (t.df < t.postings.count + (t.tail?.count ?? 0)) throw new FormatError(`lexicon part: term "${t.text}" lists more postings than its df`);
    hashes[i] = t.hash;
    df[i] = t.df;
    postingStart[i] = e;
    textStart[i] = w;
    out.set(t.postings.keys, at.keys + e * ITEM_KEY_BYTES);
    dl.set(t.postings.dl, e);
    tf.set(t.postings.tf, e);
    out.set(texts[i], at.text + w);
    e += t.postings.count;
    w += texts[i].length;
  });
  postingStart[T] = e;
  textStart[T] = w;
  const tailTerm = new Uint32Array(buf, at.tailTerm, tails.length);
  const tailBytes = new Uint32Array(buf, at.tailBytes, tails.length);
  const tailCount = new Uint32Array(buf, at.tailCount, tails.length);
  tails.forEach((t, r) => {
    tailTerm[r] = t.i;
    tailBytes[r] = t.bytes;
    tailCount[r] = t.count;
    out.set(t.sha.subarray(0, SHARD_HASH_BYTES), at.tailHashes + r * SHARD_HASH_BYTES);
  });
  return out;
}

export function decodeLexiconPart(bytes: Uint8Array): LexiconPart {
  const { buf, base, view } = openValue(bytes, LEXICON_PART_HEADER_BYTES, LEXICON_PART_MAGIC, "lexicon part");
  const T = view.getUint32(4, true);
  const E = view.getUint32(8, true);
  const W = view.getUint32(12, true);
  const R = view.getUint32(16, true);
  const at = lexiconPartLayout(T, E, W, R);
  if (bytes.byteLength !== at.end) throw new FormatError(`lexicon part is ${bytes.byteLength} bytes, expected ${at.end}`);
  const u32 = (o: number, n: number) => new Uint32Array(buf, base + o, n);
  const part: LexiconPart = {
    terms: T,
    hashes: u32(at.hashes, T),
    df: u32(at.df, T),
    postingStart: u32(at.postingStart, T + 1),
    textStart: u32(at.textStart, T + 1),
    text: new Uint8Array(buf, base + at.text, W),
    tailTerm: u32(at.tailTerm, R),
    tailBytes: u32(at.tailBytes, R),
    tailCount: u32(at.tailCount, R),
    tailHashes: new Uint8Array(buf, base + at.tailHashes, R * SHARD_HASH_BYTES),
    postings: { count: E, keys: new Uint8Array(buf, base + at.keys, E * ITEM_KEY_BYTES), dl: new Uint16Array(buf, base + at.dl, E), tf: new Uint8Array(buf, base + at.tf, E) },
  };
  if (part.postingStart[0] !== 0 || part.postingStart[T] !== E || part.textStart[0] !== 0 || part.textStart[T] !== W) throw new FormatError("lexicon part: the terms do not cover its postings and texts");
  for (let t = 0; t < T; t++) {
    if (part.postingStart[t] > part.postingStart[t + 1] || part.textStart[t] > part.textStart[t + 1]) throw new FormatError(`lexicon part: term ${t} has a negative range`);
    if (t > 0 && part.hashes[t] < part.hashes[t - 1]) throw new FormatError("lexicon part: term hashes do not ascend");
  }
  for (let r = 0; r < R; r++) if (part.tailTerm[r] >= T) throw new FormatError(`lexicon part: tail ${r} names term ${part.tailTerm[r]} of ${T}`);
  return part;
}

/** Term t's text. */
export function lexiconTerm(p: LexiconPart, t: number): string {
  return fromUtf8.decode(p.text.subarray(p.textStart[t], p.textStart[t + 1]));
}

/** The index of `term` (of hash `hash`) in the part, or -1. */
export function findLexiconTerm(p: LexiconPart, term: string, hash: number): number {
  let a = 0;
  let b = p.terms;
  while (a < b) {
    const m = (a + b) >>> 1;
    if (p.hashes[m] < hash) a = m + 1;
    else b = m;
  }
  for (let t = a; t < p.terms && p.hashes[t] === hash; t++) if (lexiconTerm(p, t) === term) return t;
  return -1;
}

/** Term t's inline postings, as views. */
export function termPrefix(p: LexiconPart, t: number): Postings {
  const s = p.postingStart[t];
  const e = p.postingStart[t + 1];
  return { count: e - s, keys: p.postings.keys.subarray(s * ITEM_KEY_BYTES, e * ITEM_KEY_BYTES), dl: p.postings.dl.subarray(s, e), tf: p.postings.tf.subarray(s, e) };
}

/** The tail of term t, if it has one: its index among the part's tails. */
export function termTail(p: LexiconPart, t: number): number {
  for (let r = 0; r < p.tailTerm.length; r++) if (p.tailTerm[r] === t) return r;
  return -1;
}

export function tailKey(p: LexiconPart, r: number): string {
  return `blob/${hex(p.tailHashes, r * SHARD_HASH_BYTES, (r + 1) * SHARD_HASH_BYTES)}`;
}

export function encodePostingsTail(t: PostingsTail): Uint8Array {
  checkPostings(t.postings, "postings tail");
  const n = t.postings.count;
  const at = postingsLayout(TAIL_HEADER_BYTES, n);
  const buf = new ArrayBuffer(at.end);
  const view = new DataView(buf);
  view.setUint32(0, POSTINGS_TAIL_MAGIC, true);
  view.setUint32(4, n, true);
  view.setUint32(8, t.termHash, true);
  new Uint8Array(buf).set(t.postings.keys, at.keys);
  new Uint16Array(buf, at.dl, n).set(t.postings.dl);
  new Uint8Array(buf, at.tf, n).set(t.postings.tf);
  return new Uint8Array(buf);
}

export function decodePostingsTail(bytes: Uint8Array): PostingsTail {
  const { buf, base, view } = openValue(bytes, TAIL_HEADER_BYTES, POSTINGS_TAIL_MAGIC, "postings tail");
  const n = view.getUint32(4, true);
  const at = postingsLayout(TAIL_HEADER_BYTES, n);
  if (bytes.byteLength !== at.end) throw new FormatError(`postings tail is ${bytes.byteLength} bytes, expected ${at.end} for ${n} postings`);
  const postings = { count: n, keys: new Uint8Array(buf, base + at.keys, n * ITEM_KEY_BYTES), dl: new Uint16Array(buf, base + at.dl, n), tf: new Uint8Array(buf, base + at.tf, n) };
  for (let i = 0; i < n; i++) if (postings.tf[i] < 1) throw new FormatError(`postings tail: posting ${i} has tf 0`);
  return { termHash: view.getUint32(8, true), postings };
}

/** §12: what a delta build adds to its base's main lexicon. */
export interface LexiconDelta {
  /** The whole corpus's item count and Σ dl. */
  items: number;
  totalTerms: number;
  /** Items with postings in `part`. */
  deltaItems: number;
  /** Main-lexicon item keys no longer in the corpus, ascending, 8 bytes each. */
  removed: Uint8Array;
  /** Every delta term, all postings inline, no tails. */
  part: LexiconPart;
}

export function encodeLexiconDelta(d: Omit<LexiconDelta, "part"> & { part: LexiconPartInput }): Uint8Array {
  const x = d.removed.length / ITEM_KEY_BYTES;
  if (!Number.isInteger(x)) throw new FormatError("lexicon delta: removed keys must be 8 bytes each");
  for (let i = 1; i < x; i++) if (compareItemKeys(d.removed, i - 1, d.removed, i) >= 0) throw new FormatError("lexicon delta: removed keys must ascend, each once");
  if (d.part.terms.some((t) => t.tail)) throw new FormatError("lexicon delta: its postings are all inline, it has no tails");
  const part = encodeLexiconPart(d.part);
  const out = new Uint8Array(LEXICON_DELTA_HEADER_BYTES + d.removed.length + part.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, LEXICON_DELTA_MAGIC, true);
  view.setUint32(4, d.items, true);
  view.setFloat64(8, d.totalTerms, true);
  view.setUint32(16, x, true);
  view.setUint32(20, d.deltaItems, true);
  out.set(d.removed, LEXICON_DELTA_HEADER_BYTES);
  out.set(part, LEXICON_DELTA_HEADER_BYTES + d.removed.length);
  return out;
}

export function decodeLexiconDelta(bytes: Uint8Array): LexiconDelta {
  const view = headerView(bytes, LEXICON_DELTA_HEADER_BYTES, LEXICON_DELTA_MAGIC, "lexicon delta");
  const x = view.getUint32(16, true);
  const partAt = LEXICON_DELTA_HEADER_BYTES + x * ITEM_KEY_BYTES;
  if (partAt > bytes.byteLength) throw new FormatError(`lexicon delta is ${bytes.byteLength} bytes, too short for ${x} removed keys`);
  const removed = bytes.slice(LEXICON_DELTA_HEADER_BYTES, partAt);
  for (let i = 1; i < x; i++) if (compareItemKeys(removed, i - 1, removed, i) >= 0) throw new FormatError("lexicon delta: removed keys do not ascend");
  const part = decodeLexiconPart(bytes.subarray(partAt));
  if (part.tailTerm.length) throw new FormatError("lexicon delta: its part names tails");
  const d: LexiconDelta = { items: view.getUint32(4, true), totalTerms: view.getFloat64(8, true), deltaItems: view.getUint32(20, true), removed, part };
  if (!(d.totalTerms >= 0) || d.deltaItems > d.items) throw new FormatError("lexicon delta: Σ dl or its item count out of range");
  return d;
}

/** Bytewise order of item key `i` of `a` and key `j` of `b` (8 bytes each). */
export function compareItemKeys(a: Uint8Array, i: number, b: Uint8Array, j: number): number {
  for (let k = 0; k < ITEM_KEY_BYTES; k++) {
    const d = a[i * ITEM_KEY_BYTES + k] - b[j * ITEM_KEY_BYTES + k];
    if (d) return d;
  }
  return 0;
}

/** Whether key `j` of `keys` is among the delta's removed keys (binary search). */
export function isRemoved(d: LexiconDelta, keys: Uint8Array, j: number): boolean {
  let a = 0;
  let b = d.removed.length / ITEM_KEY_BYTES;
  while (a < b) {
    const m = (a + b) >>> 1;
    const c = compareItemKeys(d.removed, m, keys, j);
    if (c === 0) return true;
    if (c < 0) a = m + 1;
    else b = m;
  }
  return false;
}
