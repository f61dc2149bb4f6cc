// One embedding thread: loads the model once, then embeds the batches it is sent.
import { parentPort } from "node:worker_threads";
import { createNodeEmbedder } from "../embedding/node-model.ts";

const port = parentPort!;
const embedder = createNodeEmbedder();
port.on("message", async (msg: { id: number; texts: string[] }) => {
  try {
    const e = await embedder;
    const rows = await e.embed(msg.texts);
    const flat = new Float32Array(rows.length * (rows[0]?.length ?? 0));
    rows.forEach((r, i) => flat.set(r, i * r.length));
    port.postMessage({ id: msg.id, result: flat }, [flat.buffer]);
  } catch (err) {
    port.postMessage({ id: msg.id, error: (err as Error).stack ?? String(err) });
  }
});
