// Embeds on every core: one worker thread per core, each with its own model,
// fed batches from a shared queue so a slow batch never idles the others. The
// threads start on the first call: a build whose texts are all cached never
// loads the model, which would otherwise take the cores from the index stage.
import os from "node:os";
import { Worker } from "node:worker_threads";
import { removeThreadScript, ThreadCalls, threadScript } from "./thread-entry.ts";
import { EMBEDDING_DIM } from "../../../lib/model/embed.ts";

export interface PoolOptions {
  threads?: number;
  batchSize?: number;
  onProgress?: (done: number) => void;
}

const THREAD_ENTRY = new URL("./embed-thread.ts", import.meta.url);

export class EmbeddingPool {
  private started: Array<ThreadCalls<{ texts: string[] }, Float32Array>> | undefined;
  readonly threads: number;

  constructor(threads = os.availableParallelism()) {
    this.threads = Math.max(1, threads);
  }

  private get workers(): Array<ThreadCalls<{ texts: string[] }, Float32Array>> {
    this.started ??= Array.from({ length: this.threads }, () => new ThreadCalls(new Worker(threadScript(THREAD_ENTRY, "embed-thread")), "embedding"));
    return this.started;
  }

  private run(worker: ThreadCalls<{ texts: string[] }, Float32Array>, texts: string[]): Promise<Float32Array> {
    return worker.call({ texts });
  }

  /** Loads the model in every thread, so that timed work measures embedding, not start-up. */
  async warmUp(): Promise<void> {
    await Promise.all(this.workers.map((w) => this.run(w, ["warm up"])));
  }

  /** Embeds texts into out (row i of out ← texts[i]); each thread pulls the next batch when done. */
  async embedInto(texts: readonly string[], out: Float32Array, rows: readonly number[], options: PoolOptions = {}): Promise<void> {
    const batch = options.batchSize ?? 32;
    // The graph pads every text of a batch to the longest one, so batches of
    // similar length waste far less work on mixed-length corpora.
    const order = texts.map((_, i) => i).sort((a, b) => texts[a].length - texts[b].length);
    let next = 0;
    let done = 0;
    const drive = async (w: ThreadCalls<{ texts: string[] }, Float32Array>) => {
      while (next < texts.length) {
        const start = next;
        const end = Math.min(texts.length, start + batch);
        next = end;
        const v = await this.run(w, order.slice(start, end).map((i) => texts[i]));
        for (let j = start; j < end; j++) out.set(v.subarray((j - start) * EMBEDDING_DIM, (j - start + 1) * EMBEDDING_DIM), rows[order[j]] * EMBEDDING_DIM);
        done += end - start;
        options.onProgress?.(done);
      }
    };
    await Promise.all(this.workers.map(drive));
  }

  async embed(texts: readonly string[], options: PoolOptions = {}): Promise<Float32Array[]> {
    const out = new Float32Array(texts.length * EMBEDDING_DIM);
    await this.embedInto(texts, out, texts.map((_, i) => i), options);
    return texts.map((_, i) => out.subarray(i * EMBEDDING_DIM, (i + 1) * EMBEDDING_DIM));
  }

  async close(): Promise<void> {
    await Promise.all((this.started ?? []).map((w) => w.worker.terminate()));
    removeThreadScript(THREAD_ENTRY);
  }
}
