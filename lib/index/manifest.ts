// The manifest is the one small JSON document that names everything a version of
// the index consists of. Every blob it names lives under a content-addressed KV
// key, so a key's bytes never change and two versions share whatever they have in
// common; switching versions is a single write of the `current` pointer.

export const FORMAT = "edge-semantic-search/1";
export const POINTER_KEY = "current";

export interface BlobRef {
  /** KV key, `blob/<first 32 hex of sha256>`. */
  key: string;
  bytes: number;
  /** Full hex sha256 of the stored bytes; the Worker verifies it before use. */
  sha256: string;
}

export interface ModelRef {
  /** e.g. `use-lite@0.2.0/f16-eb4a22ccfb06` */
  id: string;
  dim: number;
  weightsSha256: string;
  /** model.json (topology + float16 weights manifest, single path). */
  topology: BlobRef;
  /** The float16/float32 weight bytes the manifest describes, one blob. */
  weights: BlobRef;
  vocab: BlobRef;
}

export interface Pointer {
  version: string;
  manifestKey: string;
  switchedAt: string;
}

export function manifestKeyFor(version: string): string {
  return `manifest/${version}`;
}
