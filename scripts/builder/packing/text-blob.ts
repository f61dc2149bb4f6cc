// A value as the build writes it: its KV text and the content address naming it.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { BlobRef } from "../../../lib/index/manifest.ts";
import { blobKeyFor } from "../../../lib/index/sha256.ts";
import { blobPath, writeBlobSync } from "../../artifacts/dir.ts";

export interface TextBlob {
  ref: BlobRef;
  readonly text: string;
  /** Set when the text was written out as it was made (keepOnDisk): the file it is read back from. */
  readonly file?: string;
}

export function textBlob(text: string): TextBlob {
  const sha256 = createHash("sha256").update(text).digest("hex");
  return { ref: { key: blobKeyFor(sha256), bytes: Buffer.byteLength(text), sha256 }, text };
}

/** What a build does with each large value as it makes it: keep it, or write it out and keep its address. */
export type KeepValue = (blob: TextBlob) => TextBlob;

export const keepInMemory: KeepValue = (blob) => blob;

/**
 * Writes each value where the artifacts directory `dir` keeps it (a content
 * address, written whole or not at all: dir.ts writeBlob) and keeps only its
 * address: a large build then holds none of its shards, filter values or
 * postings at once (docs/decisions.md#streamed-build). The text is read back
 * from the file when asked for.
 */
export function keepOnDisk(dir: string): KeepValue {
  return (blob) => {
    writeBlobSync(dir, blob.ref, blob.text);
    const file = blobPath(dir, blob.ref.key);
    return {
      ref: blob.ref,
      file,
      get text() {
        return readFileSync(file, "utf8");
      },
    };
  };
}
