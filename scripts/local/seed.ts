// Writes what a deploy writes: content-addressed blobs, a manifest, then the
// `current` pointer last (so a reader never sees a pointer to nothing we wrote).
import { createHash } from "node:crypto";
import type { KVNamespace as MfKVNamespace } from "@cloudflare/workers-types";
import { POINTER_KEY, encodePointer, manifestKeyFor, parsePointer, type BlobRef, type ModelRef, type Pointer } from "../../lib/index/manifest.ts";
import type { PreparedModel } from "../builder/embedding/node-model.ts";
import { blobKeyFor } from "../../lib/index/sha256.ts";
import { EMBEDDING_DIM } from "../../lib/model/embed.ts";

/** Anything KV can store; Node Buffers are converted because Miniflare's proxy mis-sizes pooled Buffers. */
export type BlobBytes = ArrayBuffer | Uint8Array | string;

export function toArrayBuffer(data: BlobBytes): ArrayBuffer {
  if (typeof data === "string") data = new TextEncoder().encode(data);
  if (data instanceof ArrayBuffer) return data;
  return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
}

export function blobRefFor(data: BlobBytes): { ref: BlobRef; bytes: ArrayBuffer } {
  const bytes = toArrayBuffer(data);
  const sha256 = createHash("sha256").update(new Uint8Array(bytes)).digest("hex");
  return { ref: { key: blobKeyFor(sha256), bytes: bytes.byteLength, sha256 }, bytes };
}

/** Stores each value under its content address; returns the refs in input order. */
export async function putBlobs(kv: MfKVNamespace, files: readonly BlobBytes[]): Promise<BlobRef[]> {
  const refs: BlobRef[] = [];
  for (const f of files) {
    const { ref, bytes } = blobRefFor(f);
    await kv.put(ref.key, bytes);
    refs.push(ref);
  }
  return refs;
}

/** Uploads the float16 model as three blobs and returns the manifest's `model` entry. */
export async function putModel(kv: MfKVNamespace, m: PreparedModel): Promise<ModelRef> {
  const [topology, weights, vocab] = await putBlobs(kv, [JSON.stringify(m.modelJson), m.weightData, m.vocabJson]);
  return { id: m.modelId, dim: EMBEDDING_DIM, topology, weights, vocab };
}

/** Writes `manifest` under its version key, then flips the pointer to it. */
export async function publishManifest(
  kv: MfKVNamespace,
  manifest: { version: string } & Record<string, unknown>,
  opts: { pointer?: boolean } = {},
): Promise<Pointer> {
  const manifestKey = manifestKeyFor(manifest.version);
  await kv.put(manifestKey, JSON.stringify(manifest));
  const text = encodePointer(manifest.version, new Date().toISOString());
  if (opts.pointer !== false) await kv.put(POINTER_KEY, text);
  return parsePointer(text)!;
}
