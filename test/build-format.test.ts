// The index's binary format (lib/index/format.ts), its base64 transport, and the
// quantizers' error bounds (int8 per vector, product quantization).
import { Buffer } from "node:buffer";
import { beforeAll, describe, expect, it } from "vitest";
import { fromBase64, toBase64 } from "../lib/index/base64.ts";
import {
  CATALOG_MAGIC,
  chunkStoredBytes,
  chunkStoredLength,
  decodeCatalog,
  decodeColumnChunk,
  decodeFilterTable,
  encodeColumnChunk,
  encodeFilterTable,
  FILTER_TABLE_MAGIC,
  shardStoredBytes,
  shardStoredLength,
  type FilterTable,
  decodeRouting,
  decodeShard,
  encodeCatalog,
  encodeRouting,
  encodeShard,
  FormatError,
  itemKey,
  joinParts,
  PQ_CENTROIDS,
  routingBudget,
  routingByteLength,
  ROUTING_MAGIC,
  SHARD_HASH_BYTES,
  SHARD_MAGIC,
  shardKey,
  splitParts,
  type Routing,
  type Shard,
} from "../lib/index/format.ts";
import { encodePointer, manifestKeyFor, parsePointer } from "../lib/index/manifest.ts";
import { dequantizeInt8, fromScaledRows, int8ErrorBound, pqScore, pqTable, quantizeInt8, snapToScaledRows, toScaledRows } from "../lib/index/quantize.ts";
import { dotInt8 } from "../lib/index/vector.ts";
import { rng } from "../scripts/builder/training/kernels.ts";
import { trainCodebooks } from "../scripts/builder/training/pq.ts";
import { pqEncodeRows } from "../scripts/builder/training/kernels.ts";
import { exactDot, randomUnitVectors } from "./helpers/build-fixtures.ts";

function randomBytes(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
}

function sampleRouting(dim: number, pqM: number, leaves: number, seed: number, groups = Math.max(1, Math.floor(leaves / 2))): Routing {
  const r = rng(seed);
  // Group g owns a run of leaves; the last group may be empty-handed only if leaves run out.
  const groupStart = Uint32Array.from({ length: groups + 1 }, (_, g) => Math.min(leaves, Math.round((g * leaves) / groups)));
  const leafPqM = dim / 2;
  return {
    dim,
    pqM,
    leafPqM,
    groups,
    leaves,
    groupScales: Float32Array.from({ length: groups }, () => r() / 100),
    groupCentroids: Int8Array.from({ length: groups * dim }, () => Math.floor(r() * 255) - 127),
    groupStart,
    leafCodebooks: toScaledRows(Float32Array.from({ length: PQ_CENTROIDS * dim }, () => r() * 2 - 1), leafPqM),
    codebooks: toScaledRows(Float32Array.from({ length: PQ_CENTROIDS * dim }, () => r() * 2 - 1), pqM),
    rotation: toScaledRows(Float32Array.from({ length: dim * dim }, () => r() * 2 - 1), dim),
    leafCodes: randomBytes(leaves * leafPqM, seed + 2),
    leafSizes: Uint32Array.from({ length: leaves }, () => 1 + Math.floor(r() * 1000)),
    shardHashes: randomBytes(leaves * SHARD_HASH_BYTES, seed + 3),
  };
}

function sampleShard(leaf: number, count: number, pqM: number, seed: number): Shard {
  return { leaf, count, pqM, keys: randomBytes(count * 8, seed), codes: randomBytes(count * pqM, seed + 1) };
}

describe("base64", () => {
  it("round-trips every length 0..40 (all padding cases) and matches Node's encoder", () => {
    for (let n = 0; n <= 40; n++) {
      const bytes = randomBytes(n, 100 + n);
      const text = toBase64(bytes);
      expect(text).toBe(Buffer.from(bytes).toString("base64"));
      expect(text.length % 4).toBe(0);
      expect(Array.from(fromBase64(text))).toEqual(Array.from(bytes));
    }
  });

  it("round-trips across the encoder's internal chunk boundary (12,288 bytes) and all 256 byte values", () => {
    for (const n of [12_287, 12_288, 12_289, 12_290, 3 * 12_288 + 1]) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 7 + (i >> 8)) & 255);
      const text = toBase64(bytes);
      expect(text).toBe(Buffer.from(bytes).toString("base64"));
      expect(Buffer.from(fromBase64(text)).equals(Buffer.from(bytes))).toBe(true);
    }
  });

  it("rejects text whose length is not a multiple of 4 and characters outside the alphabet", () => {
    expect(() => fromBase64("QUJD" + "Q")).toThrow(/multiple of 4/);
    expect(() => fromBase64("QUJ")).toThrow(/multiple of 4/);
    expect(() => fromBase64("QU!D")).toThrow(/invalid base64/);
    expect(() => fromBase64("-_AA")).toThrow(/invalid base64/);
    // Non-ASCII characters must not alias ASCII ones (code & 127), in any position.
    for (let pos = 0; pos < 4; pos++) {
      const chars = ["Q", "U", "J", "D"];
      chars[pos] = String.fromCharCode(chars[pos].charCodeAt(0) + 128);
      expect(() => fromBase64(chars.join("")), `non-ASCII at position ${pos}`).toThrow(/invalid base64/);
    }
  });
});

function sampleFilterTable(columns: number, leaves: number, groups: number, cellsPerGroup: number[], chunksPerCell: number, seed: number): FilterTable {
  const r = rng(seed);
  const cells = cellsPerGroup.reduce((a, b) => a + b, 0);
  const valueChunks = 3 * columns;
  const chunks = valueChunks + columns * cells * chunksPerCell;
  const groupCells = new Uint32Array(groups + 1);
  cellsPerGroup.forEach((n, g) => (groupCells[g + 1] = groupCells[g] + n));
  return {
    columns,
    leaves,
    chunks,
    groups,
    cells,
    leafMin: Float32Array.from({ length: leaves * columns }, () => r()),
    leafMax: Float32Array.from({ length: leaves * columns }, () => 1 + r()),
    attrHashes: randomBytes(leaves * SHARD_HASH_BYTES, seed + 1),
    leafCell: Uint8Array.from({ length: leaves }, () => Math.floor(r() * 4)),
    groupCells,
    chunkStart: Uint32Array.from({ length: columns + 1 }, (_, c) => 3 * c),
    cellChunkStart: Uint32Array.from({ length: columns * cells + 1 }, (_, i) => valueChunks + i * chunksPerCell),
    chunkMin: Float32Array.from({ length: chunks }, () => r()),
    chunkMax: Float32Array.from({ length: chunks }, () => 1 + r()),
    chunkCount: Uint16Array.from({ length: chunks }, () => 1 + Math.floor(r() * 65535)),
    chunkCell: Uint16Array.from({ length: valueChunks }, () => Math.floor(r() * cells)),
    chunkOneValue: randomBytes(Math.ceil(valueChunks / 8), seed + 3),
    chunkHashes: randomBytes(chunks * SHARD_HASH_BYTES, seed + 2),
  };
}

describe("filter table and stored lengths", () => {
  it("round-trips every field, with leaf-cell bytes that need padding", () => {
    for (const [columns, leaves, groups, perGroup, perCell] of [
      [1, 5, 2, [2, 1], 2],
      [3, 7, 3, [1, 256, 3], 1],
      [2, 1, 1, [1], 0],
    ] as Array<[number, number, number, number[], number]>) {
      const t = sampleFilterTable(columns, leaves, groups, perGroup, perCell, leaves * 7 + columns);
      const bytes = encodeFilterTable(t);
      expect(new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true)).toBe(FILTER_TABLE_MAGIC);
      expect(Buffer.from(bytes.subarray(0, 4)).toString("latin1")).toBe("ESF4");
      const back = decodeFilterTable(joinParts(splitParts(bytes, 64)));
      expect({ c: back.columns, l: back.leaves, k: back.chunks, g: back.groups, n: back.cells }).toEqual({ c: t.columns, l: t.leaves, k: t.chunks, g: t.groups, n: t.cells });
      for (const f of ["leafMin", "leafMax", "attrHashes", "leafCell", "groupCells", "chunkStart", "cellChunkStart", "chunkMin", "chunkMax", "chunkCount", "chunkCell", "chunkOneValue", "chunkHashes"] as const) {
        expect(Array.from(back[f]), f).toEqual(Array.from(t[f]));
      }
    }
  });

  it("refuses a table whose chunks or cells do not add up, a group of more than 256 cells, and a bad length", () => {
    const t = sampleFilterTable(1, 4, 2, [2, 2], 2, 5);
    expect(() => encodeFilterTable({ ...t, cellChunkStart: t.cellChunkStart.map((v, i) => (i === t.cells ? v - 1 : v)) })).toThrow(/cover every chunk/);
    expect(() => encodeFilterTable({ ...t, groupCells: Uint32Array.from([0, 2, 3]) })).toThrow(/cover every cell/);
    expect(() => encodeFilterTable(sampleFilterTable(1, 4, 1, [257], 0, 6))).toThrow(/group 0 has 257 cells/);
    expect(() => encodeFilterTable({ ...t, chunkCell: t.chunkCell.map((v, i) => (i === 1 ? t.cells : v)) })).toThrow(/value-order chunk 1 starts in cell 4 of 4/);
    expect(() => encodeFilterTable({ ...t, chunkOneValue: new Uint8Array(0) })).toThrow(/value-order chunks' cells do not match/);
    const bytes = encodeFilterTable(t);
    expect(() => decodeFilterTable(bytes.subarray(0, bytes.byteLength - 2))).toThrow(/expected/);
    const wrong = bytes.slice();
    wrong[0] ^= 1;
    expect(() => decodeFilterTable(wrong)).toThrow(/bad magic/);
  });

  it("a shard's and a column chunk's stored lengths follow from their entry counts exactly", () => {
    for (const [count, pqM, columns] of [
      [0, 32, 1],
      [1, 32, 1],
      [24, 32, 2],
      [257, 64, 3],
    ]) {
      const shard = encodeShard(sampleShard(3, count, pqM, count + 1));
      expect(toBase64(shard).length).toBe(shardStoredLength(count, pqM));
      const chunk = encodeColumnChunk({ column: 0, columns, pqM, count, keys: randomBytes(count * 8, 2), codes: randomBytes(count * pqM, 3), values: Float64Array.from({ length: columns * count }, (_, i) => i) });
      expect(toBase64(chunk).length).toBe(chunkStoredLength(columns, count, pqM));
      expect(decodeColumnChunk(chunk).count).toBe(count);
    }
    const r = sampleRouting(6, 3, 5, 9);
    expect(shardStoredBytes(r, 2)).toBe(shardStoredLength(r.leafSizes[2], 3));
    const t = sampleFilterTable(2, 3, 1, [1], 1, 9);
    expect(chunkStoredBytes(t, 4, 32)).toBe(chunkStoredLength(2, t.chunkCount[4], 32));
  });
});

describe("routing", () => {
  it("round-trips every field, including group and code byte counts that need alignment padding", () => {
    // leaves × leafPqM = 5 × 3 = 15 pads to 16; groups × dim = 3 × 6 = 18 pads to 20.
    for (const [dim, pqM, leaves, groups] of [
      [12, 4, 3, 1],
      [6, 3, 5, 3],
      [512, 64, 7, 3],
      [10, 5, 9, 9],
    ]) {
      const r = sampleRouting(dim, pqM, leaves, dim + leaves, groups);
      const bytes = encodeRouting(r);
      expect(bytes.byteLength).toBe(routingByteLength(dim, pqM, r.leafPqM, groups, leaves));
      const view = new DataView(bytes.buffer, bytes.byteOffset);
      expect(view.getUint32(0, true)).toBe(ROUTING_MAGIC);
      expect(Buffer.from(bytes.subarray(0, 4)).toString("latin1")).toBe("ESR4");
      const back = decodeRouting(joinParts(splitParts(bytes, 64)));
      expect({ dim: back.dim, pqM: back.pqM, leafPqM: back.leafPqM, leaves: back.leaves, groups: back.groups }).toEqual({ dim, pqM, leafPqM: r.leafPqM, leaves, groups });
      for (const f of ["groupScales", "groupCentroids", "groupStart", "leafCodes", "leafSizes", "shardHashes"] as const) {
        expect(Array.from(back[f]), f).toEqual(Array.from(r[f]));
      }
      for (const f of ["leafCodebooks", "codebooks", "rotation"] as const) {
        expect(Array.from(back[f].values), f).toEqual(Array.from(r[f].values));
        expect(Array.from(back[f].scales), f).toEqual(Array.from(r[f].scales));
        expect(back[f].cols, f).toBe(r[f].cols);
      }
      expect(shardKey(back, leaves - 1)).toBe(`blob/${Buffer.from(r.shardHashes.subarray((leaves - 1) * 16, leaves * 16)).toString("hex")}`);
    }
  });

  it("the in-isolate formula: under 8 MiB at 1.2M items in leaves of 24, under 32 MiB at 10M in leaves of 32", () => {
    expect(routingBudget(1_200_000, 24, 512, 32, 64)).toBeLessThan(8 * 2 ** 20);
    expect(routingBudget(1_200_000, 24, 512, 32, 64)).toBeGreaterThan(4 * 2 ** 20);
    expect(routingBudget(10_000_000, 32, 512, 32, 64)).toBeLessThan(32 * 2 ** 20);
    expect(routingBudget(10_000_000, 24, 512, 32, 64)).toBeGreaterThan(32 * 2 ** 20);
    // Header, group scales, int8 centroids, group starts; a scale per codebook and rotation row;
    // int16 leaf and item codebooks (256·dim each) and rotation (dim²); leaf codes, sizes, hashes.
    const [G, L] = [3, 7];
    const expected = 20 + 4 * G + G * 512 + 4 * (G + 1) + 4 * (64 + 32 + 512) + 2 * 256 * 512 * 2 + 2 * 512 * 512 + L * 64 + 4 * L + 16 * L;
    expect(routingByteLength(512, 32, 64, G, L)).toBe(expected);
  });

  it("decodes from a view at an unaligned byte offset", () => {
    const r = sampleRouting(6, 3, 5, 9);
    const bytes = encodeRouting(r);
    const host = new Uint8Array(bytes.byteLength + 3);
    host.set(bytes, 3);
    const back = decodeRouting(host.subarray(3));
    expect(Array.from(back.codebooks.values)).toEqual(Array.from(r.codebooks.values));
    expect(Array.from(back.rotation.values)).toEqual(Array.from(r.rotation.values));
    expect(Array.from(back.rotation.scales)).toEqual(Array.from(r.rotation.scales));
    expect(Array.from(back.shardHashes)).toEqual(Array.from(r.shardHashes));
    expect(Array.from(back.leafSizes)).toEqual(Array.from(r.leafSizes));
  });

  it("rejects truncated, padded, bad-magic and inconsistent blobs with FormatError", () => {
    const bytes = encodeRouting(sampleRouting(12, 4, 3, 1, 2));
    for (const bad of [bytes.subarray(0, 0), bytes.subarray(0, 15), bytes.subarray(0, 16), bytes.subarray(0, bytes.length - 1), Uint8Array.from([...bytes, 0, 0, 0, 0])]) {
      expect(() => decodeRouting(bad.slice())).toThrow(FormatError);
    }
    const magic = bytes.slice();
    magic[0] ^= 1;
    expect(() => decodeRouting(magic)).toThrow(/magic/);
    const shardMagic = bytes.slice();
    new DataView(shardMagic.buffer).setUint32(0, SHARD_MAGIC, true);
    expect(() => decodeRouting(shardMagic)).toThrow(FormatError);
    const badDims = bytes.slice();
    new DataView(badDims.buffer).setUint16(6, 5, true); // pqM 5 does not divide dim 12
    expect(() => decodeRouting(badDims)).toThrow(FormatError);
    new DataView(badDims.buffer).setUint16(6, 4, true);
    new DataView(badDims.buffer).setUint16(16, 0, true); // no leaf quantizer
    expect(() => decodeRouting(badDims)).toThrow(FormatError);
    const noGroups = bytes.slice();
    new DataView(noGroups.buffer).setUint32(8, 0, true);
    expect(() => decodeRouting(noGroups)).toThrow(/group count/);
    expect(() => encodeRouting({ ...sampleRouting(12, 4, 3, 1), pqM: 5 })).toThrow(FormatError);
    const r = sampleRouting(12, 4, 3, 1, 2);
    expect(() => encodeRouting({ ...r, groupStart: Uint32Array.from([0, 1, 2]) })).toThrow(/cover every leaf/);
  });
});

describe("catalog", () => {
  it("round-trips keys and record sizes through parts of any size", () => {
    const keys = randomBytes(1000 * 8, 5);
    const sizes = Array.from({ length: 1000 }, (_, i) => 100 + i);
    const bytes = encodeCatalog(keys, sizes);
    expect(new DataView(bytes.buffer).getUint32(0, true)).toBe(CATALOG_MAGIC);
    for (const part of [7, 4096, 1 << 20]) {
      const back = decodeCatalog(joinParts(splitParts(bytes, part)));
      expect(back).toHaveLength(1000);
      expect(back[999]).toEqual({ key: `item/${Buffer.from(keys.subarray(999 * 8)).toString("hex")}`, bytes: 1099 });
    }
  });

  it("rejects a short, long or mislabelled catalog", () => {
    const bytes = encodeCatalog(randomBytes(16, 1), [1, 2]);
    expect(() => decodeCatalog(bytes.subarray(0, bytes.length - 1))).toThrow(/expected/);
    expect(() => decodeCatalog(Uint8Array.from([...bytes, 0]))).toThrow(/expected/);
    const magic = bytes.slice();
    magic[0] ^= 1;
    expect(() => decodeCatalog(magic)).toThrow(/magic/);
    expect(() => encodeCatalog(randomBytes(8, 1), [1, 2])).toThrow(/one key per record/);
  });
});

describe("pointer", () => {
  it("is written and read by one pair of functions", () => {
    const text = encodePointer("abc123", "2026-11-27T00:00:00.000Z");
    expect(parsePointer(text)).toEqual({ version: "abc123", manifestKey: manifestKeyFor("abc123"), switchedAt: "2026-11-27T00:00:00.000Z" });
    expect(parsePointer("{")).toBeNull();
    expect(parsePointer('{"version":1}')).toBeNull();
    expect(parsePointer('"current"')).toBeNull();
  });
});

describe("shard blob", () => {
  it("round-trips keys and codes, including an empty shard, through base64", () => {
    for (const [leaf, count, pqM] of [
      [0, 0, 64],
      [3, 1, 64],
      [70_000, 37, 16],
    ]) {
      const s = sampleShard(leaf, count, pqM, leaf + count);
      const bytes = encodeShard(s);
      expect(bytes.byteLength).toBe(16 + count * (8 + pqM));
      expect(Buffer.from(bytes.subarray(0, 4)).toString("latin1")).toBe("ESP1");
      const back = decodeShard(fromBase64(toBase64(bytes)));
      expect({ leaf: back.leaf, count: back.count, pqM: back.pqM }).toEqual({ leaf, count, pqM });
      expect(Array.from(back.keys)).toEqual(Array.from(s.keys));
      expect(Array.from(back.codes)).toEqual(Array.from(s.codes));
      if (count > 0) expect(itemKey(back.keys, count - 1)).toBe(`item/${Buffer.from(s.keys.subarray((count - 1) * 8, count * 8)).toString("hex")}`);
    }
  });

  it("rejects truncated, extended and bad-magic shards with FormatError", () => {
    const bytes = encodeShard(sampleShard(2, 5, 8, 3));
    for (const bad of [bytes.subarray(0, 0), bytes.subarray(0, 15), bytes.subarray(0, 16), bytes.subarray(0, bytes.length - 1), Uint8Array.from([...bytes, 0])]) {
      expect(() => decodeShard(bad)).toThrow(FormatError);
    }
    const magic = bytes.slice();
    new DataView(magic.buffer).setUint32(0, ROUTING_MAGIC, true);
    expect(() => decodeShard(magic)).toThrow(/magic/);
  });
});

describe("int8 per-vector quantization", () => {
  const dim = 512;
  const n = 400;
  const vectors = randomUnitVectors(n, dim, 42);
  const queries = randomUnitVectors(20, dim, 43);

  it("keeps every coordinate within scale/2 (exact arithmetic, stored scale) and the scale at max|x|/127", () => {
    // Violations of the bound are rare (rounding the scale to f32 after coding
    // broke it about once per 1.5M coordinates), so check 10M coordinates.
    const many = randomUnitVectors(20_000, dim, 44);
    let violations = 0;
    let worst = 0;
    for (let i = 0; i < 20_000; i++) {
      const v = many.subarray(i * dim, (i + 1) * dim);
      const { codes, scale } = quantizeInt8(v);
      let max = 0;
      let maxCode = 0;
      for (let d = 0; d < dim; d++) {
        max = Math.max(max, Math.abs(v[d]));
        maxCode = Math.max(maxCode, Math.abs(codes[d]));
        const ratio = Math.abs(v[d] - codes[d] * scale) / (scale / 2);
        if (ratio > 1) violations++;
        if (ratio > worst) worst = ratio;
      }
      if (Math.abs(scale - max / 127) > 1e-7 * scale || maxCode !== 127 || scale !== Math.fround(scale)) {
        throw new Error(`vector ${i}: scale ${scale} for max ${max}, max code ${maxCode}`);
      }
    }
    expect(violations, `worst error ${worst} half-steps`).toBe(0);
    // The bound is tight: rounding errors reach close to half a step somewhere.
    expect(worst).toBeGreaterThan(0.99);
    const v0 = vectors.subarray(0, dim);
    const q0 = quantizeInt8(v0);
    const back = dequantizeInt8(q0.codes, q0.scale);
    for (let d = 0; d < dim; d++) expect(Math.abs(back[d] - v0[d])).toBeLessThanOrEqual(q0.scale / 2 + 1e-7);
  });

  it("keeps q·x − s·(q·code) within int8ErrorBound for unit queries", () => {
    for (let qi = 0; qi < 20; qi++) {
      const q = queries.subarray(qi * dim, (qi + 1) * dim);
      for (let i = 0; i < n; i++) {
        const v = vectors.subarray(i * dim, (i + 1) * dim);
        const { codes, scale } = quantizeInt8(v);
        const bound = int8ErrorBound(q, scale);
        const err = Math.abs(exactDot(q, v) - dotInt8(q, codes, 0, dim) * scale);
        expect(err).toBeLessThanOrEqual(bound);
        // Random unit vectors: s ≈ 4/(127·√512), ‖q‖₁ ≈ 18, so the bound is about 0.013.
        expect(bound).toBeLessThan(0.02);
      }
    }
  });

  it("handles the zero vector and clamps to ±127", () => {
    const z = quantizeInt8(new Float32Array(8));
    expect(Array.from(z.codes)).toEqual(new Array(8).fill(0));
    expect(z.scale).toBe(1);
    const q = quantizeInt8(Float32Array.from([1, -1, 0.5, -0.25]));
    expect(Array.from(q.codes)).toEqual([127, -127, 64, -32]);
  });
});

describe("int16 rows with power-of-two scales (codebooks and rotation)", () => {
  it("keeps each value within 2^-15 of its row's largest, and gives snapped values back exactly", () => {
    const r = rng(5);
    const rows = 6;
    const x = Float32Array.from({ length: rows * 40 }, (_, j) => (r() * 2 - 1) * 10 ** -Math.floor(j / 40));
    const s = toScaledRows(x, rows);
    expect(s.cols).toBe(40);
    const back = fromScaledRows(s);
    for (let row = 0; row < rows; row++) {
      const slice = x.subarray(row * 40, (row + 1) * 40);
      const max = Math.max(...Array.from(slice, Math.abs));
      expect(Number.isInteger(Math.log2(s.scales[row]))).toBe(true);
      expect(max / s.scales[row]).toBeLessThanOrEqual(32767);
      expect(max / s.scales[row]).toBeGreaterThan(16383);
      for (let j = 0; j < 40; j++) expect(Math.abs(back[row * 40 + j] - slice[j])).toBeLessThanOrEqual(max * 2 ** -15);
    }
    const again = toScaledRows(back, rows);
    expect(Array.from(again.values)).toEqual(Array.from(s.values));
    expect(Array.from(again.scales)).toEqual(Array.from(s.scales));
    expect(Array.from(snapToScaledRows(back, rows))).toEqual(Array.from(back));
  });

  it("stores the identity and zero rows exactly", () => {
    const dim = 5;
    const id = new Float32Array(dim * dim);
    for (let i = 0; i < dim; i++) id[i * dim + i] = 1;
    expect(Array.from(fromScaledRows(toScaledRows(id, dim)))).toEqual(Array.from(id));
    const zero = toScaledRows(new Float32Array(8), 2);
    expect(Array.from(zero.scales)).toEqual([1, 1]);
    expect(Array.from(fromScaledRows(zero))).toEqual(new Array(8).fill(0));
  });
});

describe("product quantization", () => {
  const dim = 64;
  const pqM = 16;
  const n = 1200;
  const sub = dim / pqM;
  const vectors = randomUnitVectors(n, dim, 7);
  let codebooks: Float32Array;
  let codes: Uint8Array;
  beforeAll(async () => {
    // Snapped as the build snaps them, so the routing's int16 codebooks give these values back exactly.
    codebooks = snapToScaledRows(await trainCodebooks(vectors, dim, n, pqM, { iterations: 4, seed: 3 }), pqM);
    codes = pqEncodeRows(vectors, dim, 0, n, codebooks, pqM);
  });

  function reconstruct(i: number): Float64Array {
    const out = new Float64Array(dim);
    for (let m = 0; m < pqM; m++) {
      const c = codes[i * pqM + m];
      for (let d = 0; d < sub; d++) out[m * sub + d] = codebooks[(m * PQ_CENTROIDS + c) * sub + d];
    }
    return out;
  }

  it("ADC score equals the dot product with the reconstructed vector", () => {
    const queries = randomUnitVectors(10, dim, 8);
    for (let qi = 0; qi < 10; qi++) {
      const q = queries.subarray(qi * dim, (qi + 1) * dim);
      const table = pqTable(q, toScaledRows(codebooks, pqM), pqM);
      expect(table.length).toBe(pqM * PQ_CENTROIDS);
      for (let i = 0; i < n; i += 7) {
        expect(Math.abs(pqScore(table, codes, i * pqM, pqM) - exactDot(q, reconstruct(i)))).toBeLessThan(1e-5);
      }
    }
  });

  it("encodes each subspace to its nearest centroid, with an error far below a random code's", () => {
    let encodedErr = 0;
    let randomErr = 0;
    const r = rng(5);
    for (let i = 0; i < n; i += 11) {
      for (let m = 0; m < pqM; m++) {
        const dist = (c: number) => {
          let s = 0;
          for (let d = 0; d < sub; d++) s += (vectors[i * dim + m * sub + d] - codebooks[(m * PQ_CENTROIDS + c) * sub + d]) ** 2;
          return s;
        };
        const chosen = dist(codes[i * pqM + m]);
        let best = Infinity;
        for (let c = 0; c < PQ_CENTROIDS; c++) best = Math.min(best, dist(c));
        expect(chosen).toBeCloseTo(best, 6);
        encodedErr += chosen;
        randomErr += dist(Math.floor(r() * PQ_CENTROIDS));
      }
    }
    expect(encodedErr).toBeLessThan(randomErr * 0.5);
  });
});
