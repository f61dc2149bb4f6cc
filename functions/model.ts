// USE-lite served from KV: topology and vocab are small and verified by sha256
// before use; the weight blob, by far the largest, is streamed straight into
// tfjs (buffered first, its extra copy left the isolate much closer to its memory
// limit; docs/decisions.md#streaming-the-weights) and verified while it flows.
// One load per isolate, shared by concurrent callers.
import type { ModelRef, BlobRef } from "../lib/index/manifest.ts";
import type { ModelJson } from "../lib/model/weights.ts";
import { loadGraphModelFromMemory } from "../lib/model/load.ts";
import { tokenizeWithin, UseTokenizer, type Tokenized, type Vocabulary } from "../lib/model/tokenizer.ts";
import { embedEncoded, EMBEDDING_DIM } from "../lib/model/embed.ts";
import { embedInChunks } from "./embed-budget.ts";
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
  /**
   * Each text encoded once, stopping as soon as their total passes `cap` (what a
   * request's work is bounded by); embedEncoded then embeds these very tokens.
   */
  tokenize(texts: readonly string[], cap: number): Tokenized;
  embedEncoded(encodings: readonly (readonly number[])[]): Promise<Float32Array[]>;
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
 * Counts and hashes the weight bytes as the loader reads them (one call per
 * tensor, so the digest sees a few large writes rather than the stream's many
 * small chunks). workerd's incremental DigestStream keeps no second copy of the blob.
 * Reading stops early once the blob is longer than the manifest says.
 */
function weightVerifier(ref: BlobRef) {
  const digest = new crypto.DigestStream("SHA-256");
  const writer = digest.getWriter();
  let bytes = 0;
  return {
    onBytes(chunk: Uint8Array): Promise<void> {
      bytes += chunk.byteLength;
      if (bytes > ref.bytes) throw new ModelError("model_corrupt", `model weights blob ${ref.key}: more than the ${ref.bytes} bytes the manifest says`);
      return writer.write(chunk);
    },
    async finish(): Promise<{ bytes: number; sha256: string }> {
      await writer.close();
      return { bytes, sha256: hex(await digest.digest) };
    },
  };
}

async function loadModel(kv: KVNamespace, ref: ModelRef): Promise<LoadedModel> {
  loadsStarted++;
  const started = Date.now();
  const timer = phaseTimer();
  if (ref.dim !== EMBEDDING_DIM) throw new ModelError("model_corrupt", `model ${ref.id} has dim ${ref.dim}, expected ${EMBEDDING_DIM}`);
  const { tf, modelJson, vocabulary } = await loadSmallParts(kv, ref, timer);
  const graph = await loadVerifiedWeights(kv, ref, modelJson, timer);
  const model = servingModel(ref, tf, graph, new UseTokenizer(vocabulary));
  await probe(ref, model, graph);
  timer.mark("probe_inference");
  const loadMs = Date.now() - started;
  console.log(`model ${ref.id} loaded in ${loadMs} ms: ${JSON.stringify(timer.phases)}`);
  return { id: ref.id, dim: EMBEDDING_DIM, loadMs, ...model };
}

/** Where the load time went, in milliseconds, for the load log line (locally exact; coarse in production, where timers only advance on I/O). */
function phaseTimer() {
  const phases: Record<string, number> = {};
  let last = performance.now();
  return {
    phases,
    mark(phase: string) {
      const now = performance.now();
      phases[phase] = Math.round((now - last) * 10) / 10;
      last = now;
    },
  };
}

type PhaseTimer = ReturnType<typeof phaseTimer>;
type Tf = Awaited<ReturnType<typeof ensureWasmBackend>>;
type Graph = Awaited<ReturnType<typeof loadGraphModelFromMemory>>;

/** The wasm backend, the topology and the vocabulary, in parallel; both blobs verified and parsed. */
async function loadSmallParts(kv: KVNamespace, ref: ModelRef, timer: PhaseTimer): Promise<{ tf: Tf; modelJson: ModelJson; vocabulary: Vocabulary }> {
  const [tf, topologyBytes, vocabBytes] = await Promise.all([
    ensureWasmBackend().catch((err: Error) => {
      throw new ModelError("model_unavailable", `tfjs wasm backend failed to start: ${err.message}`);
    }),
    getVerified(kv, "topology", ref.topology),
    getVerified(kv, "vocab", ref.vocab),
  ]);
  timer.mark("backend_and_small_blobs");
  try {
    const modelJson = JSON.parse(new TextDecoder().decode(topologyBytes)) as ModelJson;
    const vocabulary = JSON.parse(new TextDecoder().decode(vocabBytes)) as Vocabulary;
    timer.mark("parse_json");
    return { tf, modelJson, vocabulary };
  } catch {
    throw new ModelError("model_corrupt", `model ${ref.id}: topology or vocab is not JSON`);
  }
}

/** The graph, its weights streamed from KV and hashed on the way; disposed again if the hash or length is wrong. */
async function loadVerifiedWeights(kv: KVNamespace, ref: ModelRef, modelJson: ModelJson, timer: PhaseTimer): Promise<Graph> {
  const weights = await kv.get(ref.weights.key, { type: "stream" });
  if (weights === null) throw new ModelError("model_missing", `model weights blob ${ref.weights.key} not found in KV`);
  const verifier = weightVerifier(ref.weights);
  let graph: Graph;
  try {
    graph = await loadGraphModelFromMemory(modelJson, weights as ReadableStream<Uint8Array>, { onBytes: verifier.onBytes });
  } catch (err) {
    if (err instanceof ModelError) throw err;
    throw new ModelError("model_corrupt", `model weights blob ${ref.weights.key} did not decode: ${(err as Error).message}`);
  }
  timer.mark("weights_stream_decode_hash");
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
  timer.mark("weights_verify");
  return graph;
}

/** embed() and retire() over one graph: a retired graph is freed once no embed runs on it. */
function servingModel(ref: ModelRef, tf: Tf, graph: Graph, tokenizer: UseTokenizer): Pick<LoadedModel, "embed" | "tokenize" | "embedEncoded" | "retire"> {
  let inFlight = 0;
  let retired = false;
  let disposed = false;
  const disposeIfIdle = () => {
    if (retired && inFlight === 0 && !disposed) {
      disposed = true;
      graph.dispose();
    }
  };
  const embedTokens = async (encodings: readonly (readonly number[])[]) => {
    if (disposed) throw new ModelError("model_unavailable", `model ${ref.id} was replaced; retry`);
    inFlight++;
    try {
      // Token-bounded calls: the wasm heap's high-water mark stays that of one small call (embed-budget.ts).
      return await embedInChunks(encodings, (chunk) => embedEncoded(tf, graph, chunk));
    } finally {
      inFlight--;
      disposeIfIdle();
    }
  };
  return {
    embed: (texts) => embedTokens(texts.map((t) => tokenizer.encode(t))),
    embedEncoded: embedTokens,
    tokenize: (texts, cap) => tokenizeWithin(tokenizer, texts, cap),
    retire() {
      retired = true;
      disposeIfIdle();
    },
  };
}

/**
 * One real inference before declaring the model ready: it proves the graph runs
 * and yields finite unit vectors, and moves first-run costs out of a query.
 */
async function probe(ref: ModelRef, model: Pick<LoadedModel, "embed">, graph: Graph): Promise<void> {
  const [vector] = await model.embed(["ready"]);
  if (!vector || vector.length !== EMBEDDING_DIM || !vector.every(Number.isFinite)) {
    graph.dispose();
    throw new ModelError("model_corrupt", `model ${ref.id} produced an invalid embedding`);
  }
}
