// The artifacts directory: what a build writes and what search, start, bench and
// deploy read. Layout (DIR = index-artifacts/ by default):
//   manifest.json        the version's manifest (lib/index/manifest.ts)
//   report.json          the build report
//   blobs/<32 hex>       every `blob/<32 hex>` KV value: routing and catalog parts,
//                        shards (base64 text) and the model (topology, weights, vocab)
//   items.pack           every `item/<16 hex>` record: "ESI1", u32 count, then
//                        count × [8-byte key][u32 length][UTF-8 JSON]
//   vectors.f32          float32 embeddings in item order, for exact search only
//                        (never uploaded)
import { renameSync, writeFileSync } from "node:fs";
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { hex, ITEM_KEY_BYTES } from "../../lib/index/format.ts";
import type { BlobRef, Manifest } from "../../lib/index/manifest.ts";
import type { BlobSource } from "../../lib/index/reader.ts";
import { readVectorsFile } from "../builder/embedding/vectors-file.ts";
import { PACK_MAGIC, PackReader, PackWriter } from "./pack.ts";
import { allValues, versionValues, type ReadTexts, type VersionValues } from "../../lib/index/version.ts";


export function blobPath(dir: string, key: string): string {
  if (!key.startsWith("blob/")) throw new Error(`not a blob key: ${key}`);
  return path.join(dir, "blobs", key.slice(5));
}

/**
 * Blobs are written through a temporary name and renamed into place: a write
 * cut short (a killed build) never leaves a short file under a content
 * address another version may share. pruneBlobs removes any left over.
 */
export async function writeBlob(dir: string, ref: BlobRef, data: string | Uint8Array): Promise<void> {
  const file = blobPath(dir, ref.key);
  await writeFile(`${file}.tmp`, data);
  await rename(`${file}.tmp`, file);
}

/** writeBlob for a caller that makes its values in a synchronous loop (text-blob.ts keepOnDisk). */
export function writeBlobSync(dir: string, ref: BlobRef, data: string | Uint8Array): void {
  const file = blobPath(dir, ref.key);
  writeFileSync(`${file}.tmp`, data);
  renameSync(`${file}.tmp`, file);
}

export async function writeItemsPack(dir: string, records: Array<{ key: string; text: string }>): Promise<void> {
  const w = await PackWriter.create(path.join(dir, "items.pack"), records.length);
  for (const r of records) {
    const flushing = w.add(r.key, r.text);
    if (flushing) await flushing;
  }
  await w.close();
}

/** Item records in pack order: key, byte offset and length of the JSON. */
export interface PackIndex {
  keys: string[];
  offsets: number[];
  lengths: number[];
  byKey: Map<string, number>;
}

export async function readPackIndex(dir: string): Promise<PackIndex> {
  const buf = await readFile(path.join(dir, "items.pack"));
  if (buf.readUInt32LE(0) !== PACK_MAGIC) throw new Error(`${dir}/items.pack is not an items pack`);
  const n = buf.readUInt32LE(4);
  const idx: PackIndex = { keys: new Array(n), offsets: new Array(n), lengths: new Array(n), byKey: new Map() };
  let o = 8;
  for (let i = 0; i < n; i++) {
    const key = `item/${hex(buf, o, o + ITEM_KEY_BYTES)}`;
    const len = buf.readUInt32LE(o + ITEM_KEY_BYTES);
    o += ITEM_KEY_BYTES + 4;
    idx.keys[i] = key;
    idx.offsets[i] = o;
    idx.lengths[i] = len;
    idx.byKey.set(key, i);
    o += len;
  }
  return idx;
}

/** Every item record's JSON text, in pack (item) order. */
export async function readRecordTexts(dir: string): Promise<string[]> {
  const pack = await readPackIndex(dir);
  const buf = await readFile(path.join(dir, "items.pack"));
  return pack.keys.map((_, i) => buf.toString("utf8", pack.offsets[i], pack.offsets[i] + pack.lengths[i]));
}

export async function readManifest(dir: string): Promise<Manifest> {
  try {
    return JSON.parse(await readFile(path.join(dir, "manifest.json"), "utf8")) as Manifest;
  } catch (e) {
    throw new Error(`no index in ${dir} (${(e as Error).message}); run \`npm run build -- --corpus FILE --out ${dir}\` first`);
  }
}

/**
 * The artifacts directory as the Worker's BlobSource, so Node search runs the
 * same code. Records are read from items.pack on demand (pack.ts), so a pack
 * of any size opens in memory that holds only its index.
 */
export class FileSource implements BlobSource {
  rounds = 0;
  private constructor(
    readonly dir: string,
    readonly pack: PackReader,
  ) {}

  static async open(dir: string): Promise<FileSource> {
    return new FileSource(dir, await PackReader.open(path.join(dir, "items.pack")));
  }

  async recordText(row: number): Promise<string> {
    return this.pack.text(row);
  }

  async getTexts(keys: string[]): Promise<Map<string, string | null>> {
    this.rounds++;
    const out = new Map<string, string | null>();
    const items: Array<[string, number]> = [];
    for (const key of keys) {
      if (key.startsWith("blob/")) out.set(key, await readBlob(this.dir, key));
      else {
        const row = this.pack.rowOf(key);
        if (row < 0) out.set(key, null);
        else items.push([key, row]);
      }
    }
    const texts = await this.pack.texts(items.map(([, row]) => row));
    items.forEach(([key], i) => out.set(key, texts[i]));
    return out;
  }
}

/** The build's float32 vectors (read in chunks: a 1.2M-item file is over the 2 GiB one read can take). */
export async function readVectors(dir: string, dim: number): Promise<Float32Array> {
  const file = path.join(dir, "vectors.f32");
  const { size } = await stat(file);
  if (size % (dim * 4) !== 0) throw new Error(`${file} is not a whole number of ${dim}-d rows`);
  return readVectorsFile(file, size / (dim * 4), dim);
}

/**
 * Reads `blob/…` values from the directory's blobs/ (null when absent),
 * BLOB_READS_AT_ONCE files at a time: a version's shards are tens of thousands
 * of files, more than a process may hold open at once.
 */
export function blobReader(dir: string): ReadTexts {
  return async (keys) => {
    const out = new Map<string, string | null>();
    for (let i = 0; i < keys.length; i += BLOB_READS_AT_ONCE) {
      const batch = keys.slice(i, i + BLOB_READS_AT_ONCE);
      const texts = await Promise.all(batch.map((k) => readBlob(dir, k)));
      batch.forEach((k, j) => out.set(k, texts[j]));
    }
    return out;
  };
}

/** Blob files read at once by blobReader. */
export const BLOB_READS_AT_ONCE = 256;

/** A blob's text; null only when it is absent: any other failure (a file limit, a disk error) is not a missing value and throws. */
async function readBlob(dir: string, key: string): Promise<string | null> {
  try {
    return await readFile(blobPath(dir, key), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
}

/** Every value of the version in DIR, by kind (format: lib/index/version.ts). */
export async function artifactVersionValues(dir: string, manifest: Manifest): Promise<VersionValues> {
  return versionValues(manifest, blobReader(dir));
}

/** Removes blobs the version does not use (left over from earlier builds). */
export async function pruneBlobs(dir: string, manifest: Manifest): Promise<number> {
  const values = await artifactVersionValues(dir, manifest);
  const keep = new Set(allValues(values).filter((r) => r.key.startsWith("blob/")).map((r) => r.key.slice(5)));
  let removed = 0;
  for (const f of await readdir(path.join(dir, "blobs"))) {
    if (!keep.has(f)) {
      await rm(path.join(dir, "blobs", f));
      removed++;
    }
  }
  return removed;
}

export async function ensureDirs(dir: string): Promise<void> {
  await mkdir(path.join(dir, "blobs"), { recursive: true });
}
