// The scale bench's measured 1% change (`--kv-change`, scripts/bench/scale-change.ts)
// on a small set built from vectors: which rows it changes, that the changed
// set's vectors are the base's but for the edited rows, and that what it counts
// is exactly the new version's values the base lacks.
import { readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runBuild } from "../scripts/builder/build.ts";
import { measureChange, type MeasuredChange } from "../scripts/bench/scale-change.ts";
import { artifactVersionValues, readManifest } from "../scripts/artifacts/dir.ts";
import { clusteredVectors, headlines, tempDir } from "./helpers/build-fixtures.ts";

const N = 2_000;
const DIM = 512;

let t: Awaited<ReturnType<typeof tempDir>>;
let set: { corpus: string; vectors: string };
let base: string;
let work: string;
let vectors: Float32Array;
let measured: MeasuredChange;

beforeAll(async () => {
  t = await tempDir("esr-kv-change-test-");
  const rows = await headlines(N);
  set = { corpus: path.join(t.dir, "set.csv"), vectors: path.join(t.dir, "set.f32") };
  await writeFile(set.corpus, ["id,publish_date,headline_text", ...rows.map((r, i) => `s${i},${r.date},${r.text}`)].join("\n") + "\n");
  vectors = clusteredVectors(N, DIM, 16, 5).vectors;
  await writeFile(set.vectors, new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength));
  base = path.join(t.dir, "base");
  await runBuild({ corpus: set.corpus, vectors: set.vectors, out: base, quiet: true, checkQueries: 20 });
  work = path.join(t.dir, "change");
  measured = await measureChange(set, base, work, DIM, { log: () => {} });
}, 240_000);

afterAll(async () => {
  await t?.cleanup();
});

it("changes 1% of the rows: the last half removed, as many others edited in text and vector", async () => {
  expect(measured).toMatchObject({ share: 0.01, removed: 10, edited: 10 });
  const lines = (await readFile(path.join(work, "changed.csv"), "utf8")).trim().split("\n");
  expect(lines.length).toBe(1 + N - 10);
  expect(lines.at(-1)!.startsWith(`s${N - 11},`)).toBe(true);
  const edited = lines.slice(1).flatMap((l, i) => (l.endsWith(" update") ? [i] : []));
  expect(edited.length).toBe(10);
  const changed = new Float32Array((await readFile(path.join(work, "changed.f32"))).buffer.slice(0));
  expect(changed.length).toBe((N - 10) * DIM);
  for (let i = 0; i < N - 10; i++) {
    let dot = 0;
    let same = true;
    for (let d = 0; d < DIM; d++) {
      dot += changed[i * DIM + d] * vectors[i * DIM + d];
      same &&= changed[i * DIM + d] === vectors[i * DIM + d];
    }
    if (edited.includes(i)) expect(dot).toBeGreaterThan(0.9);
    if (edited.includes(i)) expect(dot).toBeLessThan(0.99);
    else expect(same).toBe(true);
  }
});

it("counts exactly the new version's values the base lacks, with their bytes", async () => {
  const [b, n] = await Promise.all([readManifest(base), readManifest(path.join(work, "index"))]);
  const before = await artifactVersionValues(base, b);
  const after = await artifactVersionValues(path.join(work, "index"), n);
  const kind = (k: string) => measured.kinds.find((x) => x.kind === k)!;
  // The edited items are the only new records; removed ones are not writes.
  expect(kind("items").values).toBe(10);
  expect(kind("model").values).toBe(0);
  expect(kind("manifest").values).toBe(1);
  // The extending build keeps leaves that hold no changed item: some shards rewritten, not all.
  expect(kind("shards").values).toBeGreaterThan(0);
  expect(kind("shards").values).toBeLessThan(after.shards.length);
  const had = new Set(before.shards.map((r) => r.key));
  expect(kind("shards").bytes).toBe(after.shards.filter((r) => !had.has(r.key)).reduce((a, r) => a + r.bytes, 0));
  expect(measured.writes).toBe(measured.kinds.reduce((a, k) => a + k.values, 0));
  expect(measured.bytes).toBe(measured.kinds.reduce((a, k) => a + k.bytes, 0));
  expect(measured.lexiconDelta).toBe(true);
});

it("with reuse, counts the change build a previous run left, without building again", async () => {
  const before = (await stat(path.join(work, "index", "report.json"))).mtime.toISOString();
  const again = await measureChange(set, base, work, DIM, { reuse: true, log: () => {} });
  expect((await stat(path.join(work, "index", "report.json"))).mtime.toISOString()).toBe(before);
  expect(again.reusedFrom).toBe(before);
  expect({ ...again, seconds: 0, reusedFrom: undefined }).toEqual({ ...measured, seconds: 0, reusedFrom: undefined });
});
