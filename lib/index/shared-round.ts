// One KV round for several readers: reads issued in the same turn of the event
// loop (before any of them awaits) go out as one bulk read. Hybrid search
// starts its vector round 1 (shards) and its lexical round 1 (lexicon parts)
// together through it, so both cost one sequential round, not two.
import type { BlobSource } from "./fetch.ts";

export class SharedRound implements BlobSource {
  /** Reads that went to the underlying source. */
  rounds = 0;
  private pending: Array<{ keys: string[]; resolve: (m: Map<string, string | null>) => void; reject: (e: unknown) => void }> = [];

  constructor(private readonly source: BlobSource) {}

  getTexts(keys: string[]): Promise<Map<string, string | null>> {
    return new Promise((resolve, reject) => {
      if (this.pending.length === 0) queueMicrotask(() => this.flush());
      this.pending.push({ keys, resolve, reject });
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    this.rounds++;
    const keys = [...new Set(batch.flatMap((b) => b.keys))];
    this.source.getTexts(keys).then(
      (m) => batch.forEach((b) => b.resolve(m)),
      (e) => batch.forEach((b) => b.reject(e)),
    );
  }
}
