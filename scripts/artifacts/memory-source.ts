// A BlobSource over values held in memory, from a fresh build or an artifacts
// directory: the Node tools run the Worker's exact search code against it.
import { lexicalBlobs } from "../builder/packing/lexical-values.ts";
import { readFile } from "node:fs/promises";
import type { Manifest } from "../../lib/index/manifest.ts";
import type { BlobSource } from "../../lib/index/reader.ts";
import { allValues } from "../../lib/index/version.ts";
import { artifactVersionValues, blobPath, readPackIndex, readRecordTexts } from "./dir.ts";
import type { BuiltIndex } from "../builder/build-index.ts";
import { PackReader } from "./pack.ts";

export class MemorySource implements BlobSource {
  readonly values = new Map<string, string>();
  rounds = 0;
  /** Records not held in `values`: a build's items.pack, read on demand. */
  private pack: PackReader | null = null;
  /** Values a build wrote out as it made them (text-blob.ts keepOnDisk): their files, read on demand. */
  private readonly files = new Map<string, string>();

  /** A build's values; its records from memory (throws for a build that packed them: use ofBuilt). */
  static fromBuilt(b: BuiltIndex): MemorySource {
    if (b.recordsPack) throw new Error("this build's records are in a pack; use MemorySource.ofBuilt");
    return MemorySource.blobsOf(b);
  }

  /** A build's values, its records from memory or from the pack it wrote them to. */
  static async ofBuilt(b: BuiltIndex): Promise<MemorySource> {
    const s = MemorySource.blobsOf(b);
    if (b.recordsPack) s.pack = await PackReader.open(b.recordsPack);
    return s;
  }

  private static blobsOf(b: BuiltIndex): MemorySource {
    const s = new MemorySource();
    const f = b.filters;
    for (const blob of [...b.routing, ...b.catalog, ...b.shards, ...(f ? [...f.table, ...f.attributes, ...f.chunks] : []), ...(b.resident?.blocks ?? []), ...lexicalBlobs(b.lexical)]) {
      if (blob.file) s.files.set(blob.ref.key, blob.file);
      else s.values.set(blob.ref.key, blob.text);
    }
    for (const r of b.records) s.values.set(r.key, r.text);
    return s;
  }

  /** Every index value of the version in `dir` (the model's blobs excepted). */
  static async fromDir(dir: string, manifest: Manifest): Promise<MemorySource> {
    const s = new MemorySource();
    const model = new Set([manifest.model.topology.key, manifest.model.weights.key, manifest.model.vocab.key]);
    for (const ref of allValues(await artifactVersionValues(dir, manifest))) {
      if (ref.key.startsWith("blob/") && !model.has(ref.key)) s.values.set(ref.key, await readFile(blobPath(dir, ref.key), "utf8"));
    }
    const pack = await readPackIndex(dir);
    (await readRecordTexts(dir)).forEach((text, i) => s.values.set(pack.keys[i], text));
    return s;
  }

  async getTexts(keys: string[]): Promise<Map<string, string | null>> {
    this.rounds++;
    const out = new Map(keys.map((k) => [k, this.values.get(k) ?? null]));
    for (const k of keys) {
      const file = this.files.get(k);
      if (file) out.set(k, await readFile(file, "utf8"));
    }
    const pack = this.pack;
    if (pack) {
      const packed = keys.filter((k) => out.get(k) === null).map((k) => [k, pack.rowOf(k)] as const).filter(([, row]) => row >= 0);
      const texts = await pack.texts(packed.map(([, row]) => row));
      packed.forEach(([k], i) => out.set(k, texts[i]));
    }
    return out;
  }
}
