// Artifacts → KV. Every value is content-addressed, so publishing is: write the
// values the store does not hold yet, then the manifest, then — last, as the
// one switching write — the `current` pointer. Readers never see a pointer to
// something that is not there, and a shard never changes under its key.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { sha256Hex } from "../../lib/index/sha256.ts";
import { POINTER_KEY, encodePointer, manifestKeyFor, parsePointer, type Manifest, type Pointer } from "../../lib/index/manifest.ts";
import { allValues } from "../../lib/index/version.ts";
import { artifactVersionValues, blobPath, readManifest, readPackIndex } from "../artifacts/dir.ts";

/** The part of a KV namespace publishing needs: Miniflare's binding and the remote REST client both fit. */
export interface KvWriter {
  /** Keys present under a prefix (the remote client pages through `list`). */
  listKeys(prefix: string): Promise<Set<string>>;
  /** Writes a batch (the remote client uses bulk writes of up to 10,000 pairs). */
  putMany(entries: Array<{ key: string; value: string | ArrayBuffer }>): Promise<void>;
  get(key: string): Promise<string | null>;
  put(key: string, value: string): Promise<void>;
  delete?(keys: string[]): Promise<void>;
}

export interface PublishPlan {
  version: string;
  upload: Array<{ key: string; bytes: number }>;
  skip: Array<{ key: string; bytes: number }>;
  uploadBytes: number;
  skipBytes: number;
}

export interface KvValueRef {
  key: string;
  bytes: number;
  /** Reads the value from the artifacts directory. */
  read(): Promise<string | ArrayBuffer>;
}

/** Every KV value of a build except the manifest and pointer. */
export async function artifactValues(dir: string, manifest?: Manifest): Promise<KvValueRef[]> {
  const m = manifest ?? (await readManifest(dir));
  const out: KvValueRef[] = [];
  const seen = new Set<string>();
  const blobs = allValues(await artifactVersionValues(dir, m)).filter((r) => r.key.startsWith("blob/"));
  for (const ref of blobs) {
    if (seen.has(ref.key)) continue;
    seen.add(ref.key);
    // Model weights are read by the Worker as a byte stream; everything else as text.
    const binary = ref.key === m.model.weights.key;
    out.push({
      key: ref.key,
      bytes: ref.bytes,
      read: async () => {
        const buf = await readFile(blobPath(dir, ref.key));
        return binary ? buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) : buf.toString("utf8");
      },
    });
  }
  const pack = await readPackIndex(dir);
  let packBuf: Buffer | undefined;
  pack.keys.forEach((key, i) => {
    if (seen.has(key)) return;
    seen.add(key);
    out.push({
      key,
      bytes: pack.lengths[i],
      read: async () => {
        packBuf ??= await readFile(path.join(dir, "items.pack"));
        return packBuf.toString("utf8", pack.offsets[i], pack.offsets[i] + pack.lengths[i]);
      },
    });
  });
  return out;
}

export async function planPublish(kv: KvWriter, dir: string): Promise<{ plan: PublishPlan; values: KvValueRef[]; manifest: Manifest }> {
  const manifest = await readManifest(dir);
  const values = await artifactValues(dir, manifest);
  const present = new Set([...(await kv.listKeys("blob/")), ...(await kv.listKeys("item/"))]);
  const plan: PublishPlan = { version: manifest.version, upload: [], skip: [], uploadBytes: 0, skipBytes: 0 };
  for (const v of values) {
    if (present.has(v.key)) {
      plan.skip.push({ key: v.key, bytes: v.bytes });
      plan.skipBytes += v.bytes;
    } else {
      plan.upload.push({ key: v.key, bytes: v.bytes });
      plan.uploadBytes += v.bytes;
    }
  }
  return { plan, values, manifest };
}

/** Uploads what is missing and writes the manifest; the pointer is switched only if `switchPointer`. */
export async function publish(
  kv: KvWriter,
  dir: string,
  opts: {
    switchPointer?: boolean;
    batchBytes?: number;
    onProgress?: (done: number, total: number) => void;
    /** A plan made by planPublish moments ago (saves listing the store twice). */
    planned?: Awaited<ReturnType<typeof planPublish>>;
  } = {},
): Promise<{ plan: PublishPlan; pointer: Pointer | null; manifest: Manifest; manifestSha256: string }> {
  const { plan, values, manifest } = opts.planned ?? (await planPublish(kv, dir));
  const todo = new Set(plan.upload.map((u) => u.key));
  const pending = values.filter((v) => todo.has(v.key));
  const batchBytes = opts.batchBytes ?? 32 * 1024 * 1024;
  let batch: Array<{ key: string; value: string | ArrayBuffer }> = [];
  let size = 0;
  let done = 0;
  const flush = async () => {
    if (!batch.length) return;
    await kv.putMany(batch);
    done += batch.length;
    opts.onProgress?.(done, pending.length);
    batch = [];
    size = 0;
  };
  for (const v of pending) {
    batch.push({ key: v.key, value: await v.read() });
    size += v.bytes;
    if (size >= batchBytes || batch.length >= 10_000) await flush();
  }
  await flush();
  const manifestKey = manifestKeyFor(manifest.version);
  const manifestText = JSON.stringify(manifest);
  await kv.put(manifestKey, manifestText);
  // The pointer names the manifest by hash too: the Worker serves no other text under its key.
  const manifestSha256 = await sha256Hex(manifestText);
  let pointer: Pointer | null = null;
  if (opts.switchPointer !== false) {
    const text = encodePointer(manifest.version, new Date().toISOString(), manifestSha256);
    await kv.put(POINTER_KEY, text);
    pointer = parsePointer(text);
  }
  return { plan, pointer, manifest, manifestSha256 };
}

/** A KvWriter over a Miniflare/workerd KV binding (local KV). */
export function bindingWriter(kv: {
  get(key: string, type: "text"): Promise<string | null>;
  put(key: string, value: string | ArrayBuffer): Promise<void>;
  list(opts: { prefix: string; cursor?: string; limit?: number }): Promise<{ keys: Array<{ name: string }>; list_complete: boolean; cursor?: string }>;
  delete(key: string): Promise<void>;
}): KvWriter {
  return {
    async listKeys(prefix) {
      const out = new Set<string>();
      let cursor: string | undefined;
      for (;;) {
        const page = await kv.list({ prefix, cursor, limit: 1000 });
        for (const k of page.keys) out.add(k.name);
        if (page.list_complete || !page.cursor) break;
        cursor = page.cursor;
      }
      return out;
    },
    async putMany(entries) {
      // Miniflare's proxy serialises calls; a few in flight keep it busy.
      for (let i = 0; i < entries.length; i += 16) await Promise.all(entries.slice(i, i + 16).map((e) => kv.put(e.key, e.value)));
    },
    get: (key) => kv.get(key, "text"),
    put: (key, value) => kv.put(key, value),
    async delete(keys) {
      for (let i = 0; i < keys.length; i += 16) await Promise.all(keys.slice(i, i + 16).map((k) => kv.delete(k)));
    },
  };
}
