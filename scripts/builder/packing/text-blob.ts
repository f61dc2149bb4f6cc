// A value as the build writes it: its KV text and the content address naming it.
import { createHash } from "node:crypto";
import type { BlobRef } from "../../../lib/index/manifest.ts";
import { blobKeyFor } from "../../../lib/index/sha256.ts";

export interface TextBlob {
  ref: BlobRef;
  text: string;
}

export function textBlob(text: string): TextBlob {
  const sha256 = createHash("sha256").update(text).digest("hex");
  return { ref: { key: blobKeyFor(sha256), bytes: Buffer.byteLength(text), sha256 }, text };
}
