// Turns a model.json plus its weight bytes into a tfjs GraphModel without any
// network or file-system IO handler, so the same call works in Node and workerd.
//
// Streamed weights are read tensor by tensor here rather than by tfjs's
// `decodeWeightsStream`: that one re-concatenates its whole pending buffer on
// every chunk it reads (quadratic in chunks per tensor), and workerd's KV
// streams arrive in small chunks, so the large embedding matrix alone took
// seconds (docs/decisions.md#streaming-the-weights). Here
// each tensor's bytes land once in a buffer of exactly its size (read straight
// into it where the stream supports BYOB reads). float16 weights are widened
// through a 65,536-entry table that tfjs's own decoder fills once, so the
// values are bit-for-bit what tfjs would produce, at one lookup per weight
// (tfjs's per-tensor decoder is slow on a cold JIT, in the cold start). Node (an
// ArrayBuffer) and the Worker (a stream) both go through this one decoder.
import * as tfc from "@tensorflow/tfjs-core";
import * as tfconv from "@tensorflow/tfjs-converter";
import type { ModelJson } from "./weights.ts";

export interface WeightStreamOptions {
  /**
   * Sees every byte of the stream exactly once, in order, before it is decoded:
   * one call per tensor, plus calls for any bytes past the last tensor (the
   * stream is always read to its end). For hashing/counting while streaming;
   * awaited, so it can apply backpressure. Must not modify the chunk.
   */
  onBytes?: (chunk: Uint8Array) => void | Promise<void>;
}

type ByteStream = ReadableStream<Uint8Array | ArrayBuffer>;

/**
 * The graph's two `Where` ops (USE-lite's sequence-length clipping and FFN mask)
 * are tfjs "dynamic shape" ops, which forbid the synchronous `GraphModel.execute`
 * and force `executeAsync`: a fresh graph analysis and a promise round per node
 * group on every call. Their condition is tiny and already in memory, so they are
 * renamed to this op, which does exactly what tfjs's `Where` does (cast to bool,
 * read the values, `whereImpl`) but synchronously; then `execute` runs the graph
 * from its cached compilation. Same arithmetic, same numbers.
 */
export const SYNC_WHERE_OP = "EssSyncWhere";
let syncWhereRegistered = false;

function registerSyncWhere(): void {
  if (syncWhereRegistered) return;
  syncWhereRegistered = true;
  tfconv.registerOp(SYNC_WHERE_OP, (node) => {
    const input = node.inputs[0];
    const condition = input.dtype === "bool" ? input : tfc.cast(input, "bool");
    try {
      return tfc.kernel_impls.whereImpl(condition.shape, condition.dataSync());
    } finally {
      if (condition !== input) condition.dispose();
    }
  });
}

/** The topology with `Where` nodes renamed to SYNC_WHERE_OP (a copy: the caller's JSON is left as is). */
function withSyncWhere(topology: unknown): unknown {
  const t = topology as { node?: Array<{ op?: string }> } | null;
  if (!t || !Array.isArray(t.node) || !t.node.some((n) => n.op === "Where")) return topology;
  return { ...t, node: t.node.map((n) => (n.op === "Where" ? { ...n, op: SYNC_WHERE_OP } : n)) };
}

export async function loadGraphModelFromMemory(
  model: ModelJson,
  weightData: ArrayBuffer | ByteStream | (() => ByteStream),
  options: WeightStreamOptions = {},
): Promise<tfconv.GraphModel> {
  const weightSpecs = model.weightsManifest.flatMap((g) => g.weights);
  registerSyncWhere();
  const artifacts: tfc.io.ModelArtifacts = {
    modelTopology: withSyncWhere(model.modelTopology) as tfc.io.ModelArtifacts["modelTopology"],
    weightSpecs,
    format: model.format,
    generatedBy: model.generatedBy,
    convertedBy: model.convertedBy ?? undefined,
  };
  const handler: tfc.io.IOHandler = { load: async () => artifacts };
  const source = weightData instanceof ArrayBuffer ? new BufferReader(weightData) : new ExactReader(typeof weightData === "function" ? weightData() : weightData);
  const weightMap = await decodeWeightStream(source, weightSpecs, options.onBytes);
  // The weights are already tensors: hand them to GraphModel through its io
  // injection point instead of letting it decode `weightData` a second time.
  artifacts.weightData = new ArrayBuffer(0);
  const io = { ...tfc.io, decodeWeights: () => weightMap } as typeof tfc.io;
  try {
    return await tfconv.loadGraphModel(handler, {}, io);
  } catch (err) {
    for (const t of Object.values(weightMap)) t.dispose();
    throw err;
  }
}

const BYTES_PER: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, float16: 2, uint8: 1, uint16: 2 };

function byteLengthOf(spec: tfc.io.WeightsManifestEntry): number {
  const per = BYTES_PER[spec.quantization?.dtype ?? spec.dtype];
  if (!per) throw new Error(`weight ${spec.name}: dtype ${spec.dtype} cannot be streamed`);
  return spec.shape.reduce((a, b) => a * b, 1) * per;
}

interface ByteSource {
  /** The next `n` bytes; fewer only at the end. */
  read(n: number): Promise<Uint8Array>;
  /** Whatever follows, in pieces; undefined at the end. */
  rest(): Promise<Uint8Array | undefined>;
  cancel(reason?: unknown): Promise<void>;
  release(): void;
}

/** Views into an in-memory blob: no copies. */
class BufferReader implements ByteSource {
  private offset = 0;
  constructor(private readonly buffer: ArrayBuffer) {}
  async read(n: number): Promise<Uint8Array> {
    const end = Math.min(this.offset + n, this.buffer.byteLength);
    const view = new Uint8Array(this.buffer, this.offset, end - this.offset);
    this.offset = end;
    return view;
  }
  async rest(): Promise<Uint8Array | undefined> {
    return this.offset < this.buffer.byteLength ? this.read(this.buffer.byteLength - this.offset) : undefined;
  }
  async cancel(): Promise<void> {}
  release(): void {}
}

/** Pulls exact byte counts out of a stream, BYOB (no intermediate copies) when the stream allows it. */
class ExactReader implements ByteSource {
  private byob: ReadableStreamBYOBReader | undefined;
  private plain: ReadableStreamDefaultReader<Uint8Array | ArrayBuffer> | undefined;
  private carry: Uint8Array | undefined;

  constructor(stream: ByteStream) {
    try {
      this.byob = (stream as ReadableStream<Uint8Array>).getReader({ mode: "byob" });
    } catch {
      this.plain = stream.getReader();
    }
  }

  async read(n: number): Promise<Uint8Array> {
    if (this.byob) {
      let buf = new ArrayBuffer(n);
      let filled = 0;
      while (filled < n) {
        const { done, value } = await this.byob.read(new Uint8Array(buf, filled, n - filled));
        if (value) {
          buf = value.buffer as ArrayBuffer;
          filled += value.byteLength;
        }
        if (done) break;
      }
      return new Uint8Array(buf, 0, filled);
    }
    let out: Uint8Array | undefined;
    let filled = 0;
    while (filled < n) {
      let chunk = this.carry;
      this.carry = undefined;
      if (!chunk) {
        const { done, value } = await this.plain!.read();
        if (done) break;
        chunk = value instanceof Uint8Array ? value : new Uint8Array(value);
      }
      const take = Math.min(n - filled, chunk.byteLength);
      if (take < chunk.byteLength) this.carry = chunk.subarray(take);
      if (!out && take === n) return chunk.subarray(0, n); // one chunk covers it: no copy
      out ??= new Uint8Array(n);
      out.set(chunk.subarray(0, take), filled);
      filled += take;
    }
    return out ? out.subarray(0, filled) : new Uint8Array(0);
  }

  async rest(): Promise<Uint8Array | undefined> {
    if (this.carry) {
      const c = this.carry;
      this.carry = undefined;
      return c;
    }
    if (this.byob) {
      const { value } = await this.byob.read(new Uint8Array(64 * 1024));
      return value && value.byteLength > 0 ? value : undefined;
    }
    const { done, value } = await this.plain!.read();
    if (done) return undefined;
    return value instanceof Uint8Array ? value : new Uint8Array(value);
  }

  cancel(reason?: unknown): Promise<void> {
    return (this.byob ?? this.plain)!.cancel(reason).catch(() => undefined);
  }

  release(): void {
    (this.byob ?? this.plain)!.releaseLock();
  }
}

let float16Bits: Uint32Array | undefined;

/** float32 bit patterns for all 65,536 float16 codes, as tfjs's own float16 decoder produces them. */
function float16Table(): Uint32Array {
  if (!float16Bits) {
    const codes = new Uint16Array(65536);
    for (let i = 0; i < codes.length; i++) codes[i] = i;
    const spec: tfc.io.WeightsManifestEntry = { name: "f16", shape: [codes.length], dtype: "float32", quantization: { dtype: "float16" } };
    const decoded = tfc.io.decodeWeights(codes.buffer, [spec]).f16;
    float16Bits = new Uint32Array((decoded.dataSync() as Float32Array).slice().buffer);
    decoded.dispose();
  }
  return float16Bits;
}

function widenFloat16(src: Uint16Array, table: Uint32Array, out: Uint32Array): void {
  for (let i = 0; i < src.length; i++) out[i] = table[src[i]];
}

/** What tfjs-backend-wasm offers for allocating a tensor in its heap and writing it in place. */
interface HeapBackend {
  makeOutput(shape: number[], dtype: "float32"): tfc.TensorInfo;
  typedArrayFromHeap(info: tfc.TensorInfo): Float32Array;
}

function heapBackend(): HeapBackend | undefined {
  const b = tfc.backend() as unknown as Partial<HeapBackend>;
  return typeof b.makeOutput === "function" && typeof b.typedArrayFromHeap === "function" ? (b as HeapBackend) : undefined;
}

function decodeTensor(spec: tfc.io.WeightsManifestEntry, bytes: Uint8Array): tfc.Tensor {
  if (spec.quantization?.dtype === "float16" && spec.dtype === "float32" && bytes.byteOffset % 2 === 0) {
    const table = float16Table();
    const src = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
    const heap = heapBackend();
    if (heap) {
      // Widen straight into the tensor's wasm memory: no float32 copy in JS.
      const info = heap.makeOutput(spec.shape, "float32");
      const view = heap.typedArrayFromHeap(info);
      widenFloat16(src, table, new Uint32Array(view.buffer, view.byteOffset, view.length));
      return tfc.engine().makeTensorFromTensorInfo(info);
    }
    const out = new Uint32Array(src.length);
    widenFloat16(src, table, out);
    return tfc.tensor(new Float32Array(out.buffer), spec.shape, "float32");
  }
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  return tfc.io.decodeWeights(whole ? (bytes.buffer as ArrayBuffer) : bytes.slice().buffer, [spec])[spec.name];
}

async function decodeWeightStream(
  reader: ByteSource,
  specs: tfc.io.WeightsManifestEntry[],
  onBytes: WeightStreamOptions["onBytes"],
): Promise<tfc.NamedTensorMap> {
  const sizes = specs.map(byteLengthOf);
  const tensors: tfc.NamedTensorMap = {};
  try {
    for (let i = 0; i < specs.length; i++) {
      const bytes = sizes[i] === 0 ? new Uint8Array(0) : await reader.read(sizes[i]);
      if (bytes.byteLength > 0) await onBytes?.(bytes);
      if (bytes.byteLength < sizes[i]) {
        const expected = sizes.reduce((a, b) => a + b, 0);
        const got = sizes.slice(0, i).reduce((a, b) => a + b, 0) + bytes.byteLength;
        throw new Error(`weight data ended after ${got} bytes; the manifest needs ${expected}`);
      }
      tensors[specs[i].name] = decodeTensor(specs[i], bytes);
    }
    // Trailing bytes are not weights, but whoever verifies the blob must see them.
    for (let extra = await reader.rest(); extra; extra = await reader.rest()) await onBytes?.(extra);
    reader.release();
    return tensors;
  } catch (err) {
    await reader.cancel(err);
    for (const t of Object.values(tensors)) t.dispose();
    throw err;
  }
}
