// USE-lite served from KV: topology and vocab are small and verified by sha256
// before use; the ~14 MB weight blob is streamed straight into tfjs (measured
// ~64 MiB steady isolate memory vs ~100 MiB buffered, against a 128 MB limit) and
// verified while it flows. One load per isolate, shared by concurrent callers.
import type { ModelRef, BlobRef } from "../lib/index/manifest.ts";
import type { ModelJson } from "../lib/model/weights.ts";
import { loadGraphModelFromMemory } from "../lib/model/load.ts";
import { UseTokenizer, type Vocabulary } from "../lib/model/tokenizer.ts";
import { embedBatch, EMBEDDING_DIM } from "../lib/model/embed.ts";
import { ensureWasmBackend } from "./tf-wasm.ts";

export class ModelError extends Error {
  constructor(
    readonly code: "model_missing" | "model_corrupt" | "model_unavailable",
    message: string,
  ) {
    super(message);
  }
}

export interface LoadedModel {
  id: string;
  dim: number;
  embed(texts: readonly string[]): Promise<Float32Array[]>;
  /** Milliseconds the load took, for cold-start reporting. */
  loadMs: number;
  /** Frees the graph as soon as no embed is running on it. */
  retire(): void;
}

/** Loaded (or loading) models by content; normally one, two while a version switch is verified. */
const models = new Map<string, Promise<LoadedModel>>();
/** Load attempts started in this isolate; exposed so tests can see sharing. */
let loadsStarted = 0;

export function modelLoadsStarted(): number {
  return loadsStarted;
}

function modelKey(ref: ModelRef): string {
  return `${ref.id}|${ref.topology.key}|${ref.weights.key}|${ref.vocab.key}`;
}

/** The model a manifest names; concurrent callers share one in-flight load. */
export function getModel(kv: KVNamespace, ref: ModelRef): Promise<LoadedModel> {
  const key = modelKey(ref);
  const existing = models.get(key);
  if (existing) return existing;
  const promise = loadModel(kv, ref).catch((err: unknown) => {
    // Do not cache a rejection: the next request retries (KV may catch up).
    if (models.get(key) === promise) models.delete(key);
    throw err;
  });
  models.set(key, promise);
  return promise;
}

/**
 * Frees every model except the one `ref` names, once it is the only one in use.
 * Called after a version switch was verified, so a bad new model never costs the
 * isolate its working one; embeds already running on a retired graph finish first.
 */
export function retainOnlyModel(ref: ModelRef): void {
  const keep = modelKey(ref);
  for (const [key, promise] of models) {
    if (key === keep) continue;
    models.delete(key);
    promise.then((m) => m.retire(), () => undefined);
  }
}

function hex(buf: ArrayBuffer): string {
  return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function getVerified(kv: KVNamespace, what: string, ref: BlobRef): Promise<ArrayBuffer> {
  const data = await kv.get(ref.key, "arrayBuffer");
  if (data === null) throw new ModelError("model_missing", `model ${what} blob ${ref.key} not found in KV`);
  if (data.byteLength !== ref.bytes) {
    throw new ModelError("model_corrupt", `model ${what} blob ${ref.key}: ${data.byteLength} bytes, manifest says ${ref.bytes}`);
  }
  const digest = hex(await crypto.subtle.digest("SHA-256", data));
  if (digest !== ref.sha256) throw new ModelError("model_corrupt", `model ${what} blob ${ref.key}: sha256 mismatch`);
  return data;
}

/**
 * Passes the KV stream through while counting and hashing it. Hashing uses
 * workerd's incremental DigestStream, so no second copy of the 14 MB is held.
 * tfjs stops reading once the last tensor is decoded, so `finish()` drains what
 * is left (normally nothing) to make the byte count and hash cover the whole blob.
 */
function verifyingStream(source: ReadableStream<Uint8Array>) {
  const reader = source.getReader();
  const digest = new crypto.DigestStream("SHA-256");
  const digestWriter = digest.getWriter();
  let bytes = 0;
  let sourceDone = false;

  async function pullChunk(): Promise<Uint8Array | undefined> {
    const { done, value } = await reader.read();
    if (done) {
      sourceDone = true;
      return undefined;
    }
    bytes += value.byteLength;
    await digestWriter.write(value);
    return value;
  }

  const stream = new ReadableStream<ArrayBuffer>(
    {
      async pull(controller) {
        const chunk = await pullChunk();
        if (chunk === undefined) controller.close();
        // tfjs copies each chunk into its own buffer; hand it the bytes as-is.
        else controller.enqueue(chunk as unknown as ArrayBuffer);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );

  async function finish(): Promise<{ bytes: number; sha256: string }> {
    while (!sourceDone) await pullChunk();
    await digestWriter.close();
    return { bytes, sha256: hex(await digest.digest) };
  }

  return { stream, finish, abort: () => reader.cancel().catch(() => undefined) };
}

async function loadModel(kv: KVNamespace, ref: ModelRef): Promise<LoadedModel> {
  loadsStarted++;
  const started = Date.now();
  if (ref.dim !== EMBEDDING_DIM) throw new ModelError("model_corrupt", `model ${ref.id} has dim ${ref.dim}, expected ${EMBEDDING_DIM}`);
  const [tf, topologyBytes, vocabBytes] = await Promise.all([
    ensureWasmBackend().catch((err: Error) => {
      throw new ModelError("model_unavailable", `tfjs wasm backend failed to start: ${err.message}`);
    }),
    getVerified(kv, "topology", ref.topology),
    getVerified(kv, "vocab", ref.vocab),
  ]);
  let modelJson: ModelJson;
  let vocabulary: Vocabulary;
  try {
    modelJson = JSON.parse(new TextDecoder().decode(topologyBytes)) as ModelJson;
    vocabulary = JSON.parse(new TextDecoder().decode(vocabBytes)) as Vocabulary;
  } catch {
    throw new ModelError("model_corrupt", `model ${ref.id}: topology or vocab is not JSON`);
  }

  const weights = await kv.get(ref.weights.key, { type: "stream" });
  if (weights === null) throw new ModelError("model_missing", `model weights blob ${ref.weights.key} not found in KV`);
  const verifier = verifyingStream(weights as ReadableStream<Uint8Array>);
  let graph: Awaited<ReturnType<typeof loadGraphModelFromMemory>>;
  try {
    graph = await loadGraphModelFromMemory(modelJson, verifier.stream);
  } catch (err) {
    await verifier.abort();
    throw new ModelError("model_corrupt", `model weights blob ${ref.weights.key} did not decode: ${(err as Error).message}`);
  }
  const seen = await verifier.finish();
  if (seen.bytes !== ref.weights.bytes || seen.sha256 !== ref.weights.sha256) {
    graph.dispose();
    throw new ModelError(
      "model_corrupt",
      seen.bytes !== ref.weights.bytes
        ? `model weights blob ${ref.weights.key}: ${seen.bytes} bytes, manifest says ${ref.weights.bytes}`
        : `model weights blob ${ref.weights.key}: sha256 mismatch`,
    );
  }

  const tokenizer = new UseTokenizer(vocabulary);
  let inFlight = 0;
  let retired = false;
  let disposed = false;
  const disposeIfIdle = () => {
    if (retired && inFlight === 0 && !disposed) {
      disposed = true;
      graph.dispose();
    }
  };
  const embed = async (texts: readonly string[]) => {
    if (disposed) throw new ModelError("model_unavailable", `model ${ref.id} was replaced; retry`);
    inFlight++;
    try {
      return await embedBatch(tf, graph, tokenizer, texts);
    } finally {
      inFlight--;
      disposeIfIdle();
    }
  };
  // One real inference before declaring the model ready: it proves the graph runs
  // and yields finite unit vectors, and moves first-run costs out of a query.
  const [probe] = await embed(["ready"]);
  if (!probe || probe.length !== EMBEDDING_DIM || !probe.every(Number.isFinite)) {
    graph.dispose();
    throw new ModelError("model_corrupt", `model ${ref.id} produced an invalid embedding`);
  }
  return {
    id: ref.id,
    dim: EMBEDDING_DIM,
    embed,
    loadMs: Date.now() - started,
    retire() {
      retired = true;
      disposeIfIdle();
    },
  };
}
