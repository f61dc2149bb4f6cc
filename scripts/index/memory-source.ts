// A BlobSource over blobs held in memory or read from an artifacts directory:
// the Node tools run the Worker's exact search code against it.
import type { BlobSource } from "../../lib/index/reader.ts";
import type { BuiltIndex } from "./build-index.ts";

export class MemorySource implements BlobSource {
  readonly values = new Map<string, string>();
  rounds = 0;
  static fromBuilt(b: BuiltIndex): MemorySource {
    const s = new MemorySource();
    s.values.set(b.routing.ref.key, b.routing.text);
    for (const sh of b.shards) s.values.set(sh.ref.key, sh.text);
    for (const r of b.records) s.values.set(r.key, r.text);
    return s;
  }
  async getTexts(keys: string[]): Promise<Map<string, string | null>> {
    this.rounds++;
    return new Map(keys.map((k) => [k, this.values.get(k) ?? null]));
  }
}
