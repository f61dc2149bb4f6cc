// The Worker's resident-copy loader (functions/resident-load.ts), in Node over
// an index in memory: one copy per isolate, the previous version's dropped when
// another serves, and loaded again should that version serve again.
import { beforeAll, describe, expect, it } from "vitest";
import { openIndex, type IndexHandle } from "../lib/index/reader.ts";
import { ensureResident, residentStatus } from "../functions/resident-load.ts";
import { syntheticIndex, type SyntheticIndex } from "./helpers/synthetic-index.ts";

const N = 300;
const DIM = 64;
const BUDGET = { residentBytes: 32 * 2 ** 20 };

describe("resident copy loader", () => {
  let index: SyntheticIndex;
  const pending: Promise<unknown>[] = [];
  const waitUntil = (p: Promise<unknown>) => void pending.push(p);
  const settle = () => Promise.all(pending.splice(0));
  const version = () => openIndex(index.manifest, index.source);

  beforeAll(async () => {
    index = await syntheticIndex(N, 0, DIM);
    expect(index.manifest.resident?.items).toBe(N);
  });

  it("loads once per version, and drops the previous version's copy when another serves", async () => {
    const [a, b] = await Promise.all([version(), version()]);
    ensureResident(a, BUDGET, waitUntil);
    expect(residentStatus(a, BUDGET).state).toBe("loading");
    ensureResident(a, BUDGET, waitUntil);
    expect(pending).toHaveLength(1);
    await settle();
    expect(a.resident?.items).toBe(N);
    expect(residentStatus(a, BUDGET)).toMatchObject({ state: "loaded", items: N, bytes: index.manifest.resident!.bytes });

    ensureResident(b, BUDGET, waitUntil);
    expect(a.resident).toBeNull();
    await settle();
    expect(b.resident?.items).toBe(N);

    // Back to a (a rollback within the isolate's life): its copy loads again.
    ensureResident(a, BUDGET, waitUntil);
    expect(b.resident).toBeNull();
    expect(pending).toHaveLength(1);
    await settle();
    expect(a.resident?.items).toBe(N);
  });

  it("a load that ends after another version took over is not kept", async () => {
    const [a, b]: IndexHandle[] = await Promise.all([version(), version()]);
    ensureResident(a, BUDGET, waitUntil);
    ensureResident(b, BUDGET, waitUntil);
    await settle();
    expect(a.resident ?? null).toBeNull();
    expect(b.resident?.items).toBe(N);
  });

  it("a copy over the budget is not loaded; a budget of 0 is off", async () => {
    const a = await version();
    ensureResident(a, { residentBytes: 1024 }, waitUntil);
    expect(pending).toHaveLength(0);
    expect(residentStatus(a, { residentBytes: 1024 })).toMatchObject({ state: "over_budget", budget_bytes: 1024 });
    const b = await version();
    ensureResident(b, { residentBytes: 0 }, waitUntil);
    expect(residentStatus(b, { residentBytes: 0 }).state).toBe("off");
    expect(b.resident ?? null).toBeNull();
  });
});
