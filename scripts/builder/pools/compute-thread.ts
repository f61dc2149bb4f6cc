// One compute thread: holds the shared vectors, runs the tasks it is sent.
import { parentPort, workerData } from "node:worker_threads";
import { runTask, type Task } from "./compute-tasks.ts";

const port = parentPort!;
const { vectors, dim } = workerData as { vectors: Float32Array; dim: number };
port.on("message", (msg: { id: number; task: Task }) => {
  try {
    port.postMessage({ id: msg.id, result: runTask(vectors, dim, msg.task) });
  } catch (err) {
    port.postMessage({ id: msg.id, error: (err as Error).stack ?? String(err) });
  }
});
