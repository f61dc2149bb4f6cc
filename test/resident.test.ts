// The resident copy of the item records (format.ts section 8; the build's
// scripts/builder/packing/resident-blocks.ts; the readers' lib/index/resident.ts): its
// round trip, its blocks, and that a search re-ranking from it gives the very
// answer a search reading records from KV gives, without reading any record.
import { Buffer } from "node:buffer";
import { describe, expect, it } from "vitest";
import { decodeResidentBlock, encodeResidentBlock, FormatError, ITEM_KEY_BYTES, residentRecord, textToBlob, type ItemRecord, type ResidentEntries } from "../lib/index/format.ts";
import { openIndex, searchVector, type BlobSource, type IndexHandle } from "../lib/index/reader.ts";
import { loadResident, ResidentRecords } from "../lib/index/resident.ts";
import { MemorySource } from "../scripts/artifacts/memory-source.ts";
import { residentCopy } from "../scripts/builder/packing/resident-blocks.ts";
import { rng } from "../scripts/builder/training/kernels.ts";
import { dotInt8 } from "../lib/index/vector.ts";
import { suiteSyntheticIndex } from "./helpers/synthetic-index.ts";
import { madeUpItems, randomUnitVectors } from "./helpers/build-fixtures.ts";

const N = 2000;
const DIM = 512;
const QUERIES = 50;

function randomKeys(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: n * ITEM_KEY_BYTES }, () => Math.floor(r() * 256));
}

describe("resident block format", () => {
  const dim = 8;
  const entries: ResidentEntries = {
    dim,
    keys: randomKeys(3, 1),
    recordBytes: [101, 202, 303],
    scales: [0.5, 0.25, 0.125],
    vectors: Int8Array.from({ length: 3 * dim }, (_, i) => (i % 255) - 127),
    records: [
      { id: "a", text: "first", meta: { publish_date: "20030219" } },
      { id: "b", text: "ünïcödé ✓", meta: {} },
      { id: "c", text: "", meta: { n: 3, ok: true, none: null } },
    ],
  };

  it("round-trips keys, sizes, scales, vectors and records", () => {
    const b = decodeResidentBlock(encodeResidentBlock(entries));
    expect(b.count).toBe(3);
    expect(b.dim).toBe(dim);
    expect(Array.from(b.keys)).toEqual(Array.from(entries.keys));
    expect(Array.from(b.recordBytes)).toEqual(entries.recordBytes);
    expect(Array.from(b.scales)).toEqual(entries.scales);
    expect(Array.from(b.vectors)).toEqual(Array.from(entries.vectors));
    entries.records.forEach((r, e) => expect(residentRecord(b, e)).toEqual(r));
  });

  it("refuses a bad magic, a wrong length, a broken text range and an entry that is not JSON", () => {
    const good = encodeResidentBlock(entries);
    const badMagic = good.slice();
    badMagic[0] ^= 1;
    expect(() => decodeResidentBlock(badMagic)).toThrow(/bad magic/);
    expect(() => decodeResidentBlock(good.subarray(0, good.length - 1))).toThrow(FormatError);
    expect(() => decodeResidentBlock(good.subarray(0, 10))).toThrow(/truncated/);
    const b = decodeResidentBlock(good.slice());
    const swapped = good.slice();
    const at = b.textStart.byteOffset + 4; // entry 1's start, past entry 2's
    new DataView(swapped.buffer).setUint32(at, b.textStart[2] + 1, true);
    expect(() => decodeResidentBlock(swapped)).toThrow(/negative text range/);
    const garbled = good.slice();
    garbled[b.text.byteOffset + b.textStart[1]] = "x".charCodeAt(0); // entry 1's opening brace
    expect(() => residentRecord(decodeResidentBlock(garbled), 1)).toThrow(/not JSON/);
  });

  it("refuses entries that do not line up", () => {
    expect(() => encodeResidentBlock({ ...entries, scales: [1, 2] })).toThrow(/one entry per record/);
  });
});

describe("resident copy of a built index", () => {
  const ix = suiteSyntheticIndex(N, QUERIES, DIM);

  async function loaded(): Promise<ResidentRecords> {
    return loadResident(ix.manifest.resident!, DIM, ix.source);
  }

  it("holds every record: same vector, scale, size, id, text and metadata as its KV record", async () => {
    expect(ix.built.resident).not.toBeNull();
    const table = await loaded();
    expect(table.items).toBe(N);
    expect(table.bytes).toBe(ix.built.resident!.bytes);
    const q = ix.queries.subarray(0, DIM);
    ix.built.records.forEach((r) => {
      const g = table.find(r.key);
      expect(g, r.key).toBeGreaterThanOrEqual(0);
      const rec = JSON.parse(r.text) as ItemRecord;
      const raw = textToBlob(rec.v);
      const v = new Int8Array(raw.buffer, raw.byteOffset, raw.byteLength);
      expect(table.score(q, g)).toBe(dotInt8(q, v, 0, DIM) * rec.s);
      expect(table.recordBytes(g)).toBe(r.bytes);
      expect(table.record(g)).toEqual({ id: rec.id, text: rec.text, meta: rec.meta });
    });
    expect(table.find("item/0000000000000000")).toBe(-1);
    expect(table.find("item/zz")).toBe(-1);
    expect(table.find("blob/" + ix.built.records[0].key.slice(5))).toBe(-1);
  });

  it("searches re-ranking from memory give the same answers and bytes, and read no record", async () => {
    const plain: IndexHandle = await openIndex(ix.manifest, ix.source);
    const reads: string[] = [];
    const spy: BlobSource = {
      async getTexts(keys) {
        reads.push(...keys);
        return ix.source.getTexts(keys);
      },
    };
    const resident: IndexHandle = { ...(await openIndex(ix.manifest, spy)), resident: await loaded() };
    reads.length = 0;
    for (let i = 0; i < QUERIES; i++) {
      const q = ix.queries.subarray(i * DIM, (i + 1) * DIM);
      const a = await searchVector(plain, q, { k: 10 });
      const b = await searchVector(resident, q, { k: 10 });
      expect(b.results).toEqual(a.results);
      expect(b.stats.records).toBe(a.stats.records);
      expect(b.stats.resident).toBe(a.stats.records);
      expect(a.stats.resident).toBe(0);
      expect(b.stats.bytes).toBe(a.stats.bytes);
      expect(a.stats.roundTrips).toBe(2);
      expect(b.stats.roundTrips).toBe(1);
    }
    expect(reads.filter((k) => k.startsWith("item/"))).toEqual([]);
    expect(reads.length).toBeGreaterThan(0);
  });

  it("a record the copy lacks is read from KV, so the answer is still whole", async () => {
    // A copy of the first half of the items only.
    const half = N / 2;
    const keyBytes = Uint8Array.from(Buffer.from(ix.built.records.slice(0, half).map((r) => r.key.slice(5)).join(""), "hex"));
    const copy = residentCopy(ix.data, DIM, ix.items.slice(0, half), keyBytes, ix.built.records.slice(0, half).map((r) => r.bytes))!;
    const partial: IndexHandle = { ...(await openIndex(ix.manifest, ix.source)), resident: new ResidentRecords(copy.blocks.map((b) => decodeResidentBlock(textToBlob(b.text))), DIM) };
    const plain = await openIndex(ix.manifest, ix.source);
    for (let i = 0; i < 10; i++) {
      const q = ix.queries.subarray(i * DIM, (i + 1) * DIM);
      const a = await searchVector(plain, q, { k: 10 });
      const b = await searchVector(partial, q, { k: 10 });
      expect(b.results).toEqual(a.results);
      expect(b.stats.resident).toBeLessThan(b.stats.records);
      expect(b.stats.resident).toBeGreaterThan(0);
    }
  });

  it("a missing, corrupt or short set of blocks fails the load with the block's key", async () => {
    const copy = ix.manifest.resident!;
    const refs = copy.blocks;
    const without = new MemorySource();
    for (const [k, v] of ix.source.values) if (k !== refs[0].key) without.values.set(k, v);
    await expect(loadResident(copy, DIM, without)).rejects.toThrow(new RegExp(`resident block ${refs[0].key} is missing`));
    const corrupt = new MemorySource();
    for (const [k, v] of ix.source.values) corrupt.values.set(k, k === refs[0].key ? (v[9] === "A" ? "B" : "A") + v.slice(1) : v);
    await expect(loadResident(copy, DIM, corrupt)).rejects.toThrow(new RegExp(`resident block ${refs[0].key} fails its checksum`));
    await expect(loadResident({ ...copy, items: N + 1 }, DIM, ix.source)).rejects.toThrow(new RegExp(`hold 2000 records in ${copy.bytes} bytes, the manifest says 2001 in ${copy.bytes}`));
    await expect(loadResident({ ...copy, bytes: copy.bytes + 1 }, DIM, ix.source)).rejects.toThrow(/the manifest says 2000 in \d+/);
    // A manifest that understates the copy's size (the budget was checked against it) stops the load at the block that passes it.
    await expect(loadResident({ ...copy, bytes: copy.bytes - 1 }, DIM, ix.source)).rejects.toThrow(new RegExp(`resident block ${refs[refs.length - 1].key} takes the copy past`));
    await expect(loadResident(copy, 256, ix.source)).rejects.toThrow(/has dim 512, the index 256/);
  });
});

describe("resident blocks", () => {
  const dim = 16;
  // Enough items for several blocks (~4,096 items each, at least 1,024).
  const n = 30_000;
  const vectors = randomUnitVectors(n + 50, dim, 3);
  const items = madeUpItems(n + 50);
  const keys = randomKeys(n + 50, 4);
  const sizes = items.map(() => 400);

  it("are cut where a key says so: appending items rewrites only the last block", () => {
    const before = residentCopy(vectors, dim, items.slice(0, n), keys.subarray(0, n * ITEM_KEY_BYTES), sizes.slice(0, n))!;
    const after = residentCopy(vectors, dim, items, keys, sizes)!;
    expect(before.blocks.length).toBeGreaterThan(2);
    const a = before.blocks.map((b) => b.ref.key);
    const b = after.blocks.map((x) => x.ref.key);
    expect(b.slice(0, a.length - 1)).toEqual(a.slice(0, -1));
    expect(b[a.length - 1]).not.toBe(a[a.length - 1]);
    const counts = before.blocks.map((x) => decodeResidentBlock(textToBlob(x.text)).count);
    expect(counts.reduce((s, c) => s + c, 0)).toBe(n);
    expect(before.bytes).toBe(before.blocks.reduce((s, x) => s + textToBlob(x.text).length, 0));
  });

  it("are not written when the records would not fit the budget", () => {
    const all = residentCopy(vectors, dim, items, keys, sizes)!;
    expect(residentCopy(vectors, dim, items, keys, sizes, all.bytes)).not.toBeNull();
    expect(residentCopy(vectors, dim, items, keys, sizes, all.bytes - 1)).toBeNull();
    expect(residentCopy(vectors, dim, items, keys, sizes, 0)).toBeNull();
  });
});
