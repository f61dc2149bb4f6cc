// A built index over synthetic clustered vectors (no model), served from memory
// with the Worker's search code: the setup of the tree and resident tests.
import { beforeAll } from "vitest";
import type { Manifest } from "../../lib/index/manifest.ts";
import { buildIndex, type BuiltIndex } from "../../scripts/builder/build-index.ts";
import type { CorpusItem } from "../../scripts/builder/corpus/read-corpus.ts";
import { MemorySource } from "../../scripts/artifacts/memory-source.ts";
import { clusteredVectors, madeUpItems } from "./build-fixtures.ts";

/** Only what the reader looks at (the resident copy included when built); the full manifest is covered by the build tests. */
export function manifestFor(built: BuiltIndex, dim: number): Manifest {
  const resident = built.resident ? { resident: { blocks: built.resident.blocks.map((b) => b.ref), items: built.records.length, bytes: built.resident.bytes } } : {};
  return { dim, items: built.records.length, params: built.params, routing: built.routing.map((p) => p.ref), catalog: built.catalog.map((p) => p.ref), ...resident } as unknown as Manifest;
}

export interface SyntheticIndex {
  /** n rows, then the queries' rows, each dim wide. */
  data: Float32Array;
  queries: Float32Array;
  items: CorpusItem[];
  built: BuiltIndex;
  source: MemorySource;
  manifest: Manifest;
}

/** n items in 50 clusters of 4 sub-clusters (seed 5), and `queries` more drawn alike, built with the default params. */
export async function syntheticIndex(n: number, queries: number, dim: number): Promise<SyntheticIndex> {
  const { vectors } = clusteredVectors(n + queries, dim, 50, 5, 4);
  const data = vectors.slice(0, n * dim);
  const items = madeUpItems(n);
  const built = await buildIndex(data, dim, items);
  return { data, queries: vectors.slice(n * dim), items, built, source: MemorySource.fromBuilt(built), manifest: manifestFor(built, dim) };
}

/** The same index for one suite: built before its tests (beforeAll), its fields read inside them. */
export function suiteSyntheticIndex(n: number, queries: number, dim: number): SyntheticIndex {
  const index = {} as SyntheticIndex;
  beforeAll(async () => void Object.assign(index, await syntheticIndex(n, queries, dim)));
  return index;
}
