// The build's number crunching on every core. The vectors (and large centroid
// tables) live in SharedArrayBuffers, so a task carries only row ranges; each
// thread pulls the next task when it is done. Tiny inputs run inline: starting
// threads costs more than it saves there.
import os from "node:os";
import { Worker } from "node:worker_threads";
import { removeThreadScript, ThreadCalls, threadScript } from "./thread-entry.ts";
import { runTask, type Task, type TaskResult } from "./compute-tasks.ts";

const THREAD_ENTRY = new URL("./compute-thread.ts", import.meta.url);
/**
 * Below this many rows the pool runs inline: a thread costs a fixed start-up,
 * which only a very small build does not win back in its k-means.
 */
export const INLINE_ROWS = 4_096;

/** The same numbers, in a SharedArrayBuffer (no copy when they already are). */
export function shared<T extends Float32Array | Int32Array>(a: T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const Ctor = a.constructor as { new (b: SharedArrayBuffer): T };
  const out = new Ctor(new SharedArrayBuffer(a.byteLength));
  out.set(a);
  return out;
}

export class ComputePool {
  private readonly workers: Array<ThreadCalls<{ task: Task }, TaskResult>> = [];
  readonly vectors: Float32Array;

  constructor(
    vectors: Float32Array,
    readonly dim: number,
    threads = os.availableParallelism(),
  ) {
    const rows = vectors.length / dim;
    const n = rows < INLINE_ROWS ? 0 : Math.max(1, threads);
    this.vectors = n ? shared(vectors) : vectors;
    for (let i = 0; i < n; i++) this.workers.push(this.spawn());
  }

  get threads(): number {
    return Math.max(1, this.workers.length);
  }

  private spawn(): ThreadCalls<{ task: Task }, TaskResult> {
    return new ThreadCalls(new Worker(threadScript(THREAD_ENTRY, "compute-thread"), { workerData: { vectors: this.vectors, dim: this.dim } }), "compute");
  }

  /** Runs every task, results in task order; threads pull the next task when free. */
  async all<R extends TaskResult>(tasks: Task[]): Promise<R[]> {
    const out: TaskResult[] = new Array(tasks.length);
    if (this.workers.length === 0) {
      tasks.forEach((t, i) => (out[i] = runTask(this.vectors, this.dim, t)));
      return out as R[];
    }
    let next = 0;
    const drive = async (w: ThreadCalls<{ task: Task }, TaskResult>) => {
      while (next < tasks.length) {
        const i = next++;
        out[i] = await w.call({ task: tasks[i] });
      }
    };
    await Promise.all(this.workers.map(drive));
    return out as R[];
  }

  /** [start, end) ranges over `rows` rows, a few per thread so that a slow one does not idle the rest. */
  ranges(rows: number, perThread = 8): Array<[number, number]> {
    const parts = Math.max(1, Math.min(rows, this.threads * perThread));
    const step = Math.ceil(rows / parts);
    const out: Array<[number, number]> = [];
    for (let s = 0; s < rows; s += step) out.push([s, Math.min(rows, s + step)]);
    return out;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
    this.workers.length = 0;
    removeThreadScript(THREAD_ENTRY);
  }
}
