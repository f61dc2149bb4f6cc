// The k-means tree + PQ index (scripts/builder/build-index.ts) at scale: 100k
// synthetic clustered vectors, searched with the Worker's code (lib/index/reader.ts)
// against brute force. A 100k build is not a unit test: this file runs with the
// integration tests, not in `npm run test:unit` (test/build-tree-search.test.ts
// covers the same code on 2,000 items there).
import { describe, expect, it } from "vitest";
import type { Manifest } from "../lib/index/manifest.ts";
import { openIndex, searchVector } from "../lib/index/reader.ts";
import { buildIndex, DEFAULT_PARAMS } from "../scripts/builder/build-index.ts";
import { MemorySource } from "../scripts/artifacts/memory-source.ts";
import { exactTopK } from "../scripts/builder/check/self-check.ts";
import { clusteredVectors, madeUpItems } from "./helpers/build-fixtures.ts";

describe("tree search vs brute force at scale (100k synthetic clustered vectors)", () => {
  // 128-d keeps the build to seconds on two threads; the tree, the routing and
  // the search are the same code whatever the dimension.
  const BIG = 100_000;
  const D = 128;
  const Q = 200;

  it("reaches recall@10 ≥ 0.95 in 2 KV rounds, with every group and leaf level in use", async () => {
    const { vectors } = clusteredVectors(BIG + Q, D, 2000, 12, 11);
    const rows = vectors.slice(0, BIG * D);
    const items = madeUpItems(BIG);
    // Two OPQ rounds on a smaller sample: the rotation is tested in build-opq.test.ts, the tree here.
    const big = await buildIndex(rows, D, items, { pqM: 32, threads: 2, opqRounds: 2, pqSample: 8192 });
    expect(big.params.groups).toBeGreaterThan(40);
    expect(big.params.leaves).toBeGreaterThan(BIG / DEFAULT_PARAMS.leafSize * 0.8);
    const manifest = { dim: D, items: BIG, params: { ...big.params, nprobe: 96, maxShardBytes: undefined }, routing: big.routing.map((p) => p.ref), catalog: big.catalog.map((p) => p.ref) } as unknown as Manifest;
    const h = await openIndex(manifest, MemorySource.fromBuilt(big));
    let hits = 0;
    for (let qi = 0; qi < Q; qi++) {
      const q = vectors.subarray((BIG + qi) * D, (BIG + qi + 1) * D);
      const truth = new Set(exactTopK(rows, D, BIG, q, 10).map((i) => items[i].id));
      const { results, stats } = await searchVector(h, q, { k: 10 });
      expect(stats.roundTrips).toBe(2);
      for (const r of results) if (truth.has(r.id)) hits++;
    }
    expect(hits / (Q * 10)).toBeGreaterThanOrEqual(0.95);
    // A 100k build on two threads: on a shared machine it may need more than the suite's 180 s default.
  }, 600_000);
});
