// Precomputed embeddings as build input (`--vectors FILE.f32`) and the build's
// KV value limit: a good file builds exactly as given; each kind of bad file is
// a usage error naming the file and what is wrong; an oversized value stops the
// build with the value's name and the knob that shrinks it.
import { readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UsageError } from "../scripts/common/cli.ts";
import { runBuild } from "../scripts/builder/build.ts";
import { readVectorsFile } from "../scripts/builder/embedding/vectors-file.ts";
import { ValueTooLargeError } from "../scripts/builder/packing/value-limits.ts";
import { clusteredVectors, runCli, tempDir } from "./helpers/build-fixtures.ts";

const N = 300;
const DIM = 512;

let t: Awaited<ReturnType<typeof tempDir>>;
let corpus: string;
let good: string;
let vectors: Float32Array;

async function f32File(name: string, data: Float32Array | Uint8Array): Promise<string> {
  const file = path.join(t.dir, name);
  await writeFile(file, data instanceof Float32Array ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : data);
  return file;
}

beforeAll(async () => {
  t = await tempDir("esr-vectors-test-");
  corpus = path.join(t.dir, "items.txt");
  // Blank lines are skipped by the reader, so the file's rows follow the items, not the lines.
  const lines = Array.from({ length: N }, (_, i) => `made up item number ${i} about topic ${i % 17}`);
  lines.splice(5, 0, "   ");
  await writeFile(corpus, lines.join("\n") + "\n");
  vectors = clusteredVectors(N, DIM, 12, 3).vectors;
  good = await f32File("good.f32", vectors);
});

afterAll(async () => {
  await t?.cleanup();
});

describe("--vectors", () => {
  it("builds from the file without embedding the corpus; the stored vectors are the file's", async () => {
    const out = path.join(t.dir, "out");
    const { manifest, report } = await runBuild({ corpus, vectors: good, out, quiet: true, checkQueries: 20 });
    expect(manifest.items).toBe(N);
    expect(report.embeddings).toMatchObject({ source: "file", computed: 0, cached: 0 });
    expect(Buffer.compare(await readFile(path.join(out, "vectors.f32")), await readFile(good))).toBe(0);
    expect(manifest.selfCheck.roundTrips).toBe(2);
  });

  it("links the file into the index, and a later build into the same directory replaces the link without writing through it", async () => {
    const out = path.join(t.dir, "out-linked");
    const source = await f32File("linked.f32", vectors);
    await runBuild({ corpus, vectors: source, out, quiet: true, checkQueries: 20 });
    expect((await stat(path.join(out, "vectors.f32"))).ino).toBe((await stat(source)).ino);
    // The same corpus embedded by the model: other vectors, written into the same directory.
    await runBuild({ corpus, out, quiet: true, checkQueries: 20, cacheDir: null });
    expect((await stat(path.join(out, "vectors.f32"))).ino).not.toBe((await stat(source)).ino);
    expect(Buffer.compare(await readFile(source), Buffer.from(vectors.buffer, vectors.byteOffset, vectors.byteLength))).toBe(0);
    expect(Buffer.compare(await readFile(path.join(out, "vectors.f32")), await readFile(source))).not.toBe(0);
  }, 120_000);

  it("reads a good file into shared memory", async () => {
    const v = await readVectorsFile(good, N, DIM);
    expect(v.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(Array.from(v.subarray(0, 8))).toEqual(Array.from(vectors.subarray(0, 8)));
  });

  const bad: Array<[string, () => Promise<string>, RegExp]> = [
    ["a missing file", async () => path.join(t.dir, "nope.f32"), /nope\.f32: cannot open/],
    ["a size that is not whole rows", () => f32File("ragged.f32", new Uint8Array(DIM * 4 * N + 3)), /ragged\.f32: \d+ bytes is not a whole number of 512-d float32 rows/],
    ["one row too few", () => f32File("short.f32", vectors.subarray(0, (N - 1) * DIM)), /short\.f32: has 299 rows, the corpus has 300 items/],
    ["one row too many", () => f32File("long.f32", Float32Array.from([...vectors, ...vectors.subarray(0, DIM)])), /long\.f32: has 301 rows, the corpus has 300 items/],
    [
      "a NaN",
      () => {
        const v = vectors.slice();
        v[7 * DIM + 3] = NaN;
        return f32File("nan.f32", v);
      },
      /nan\.f32: row 7 has a non-finite value \(NaN\) at dimension 3/,
    ],
    [
      "an infinity",
      () => {
        const v = vectors.slice();
        v[(N - 1) * DIM] = Infinity;
        return f32File("inf.f32", v);
      },
      /inf\.f32: row 299 has a non-finite value \(Infinity\) at dimension 0/,
    ],
    [
      "a row that is not unit length",
      () => {
        const v = vectors.slice();
        for (let d = 0; d < DIM; d++) v[42 * DIM + d] *= 1.01;
        return f32File("norm.f32", v);
      },
      /norm\.f32: row 42 has norm 1\.0100; rows must be unit length/,
    ],
    ["a zero row", () => f32File("zero.f32", Float32Array.from(vectors).fill(0, 0, DIM)), /zero\.f32: row 0 has norm 0\.0000/],
  ];

  for (const [name, make, message] of bad) {
    it(`refuses ${name} as a usage error naming the file`, async () => {
      const file = await make();
      const err = await readVectorsFile(file, N, DIM).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).toMatch(message);
    });
  }

  it("the CLI exits 2 with the reason, before any index work", async () => {
    const file = await f32File("cli-short.f32", vectors.subarray(0, 10 * DIM));
    const r = await runCli("build", ["--corpus", corpus, "--vectors", file, "--out", path.join(t.dir, "cli-out")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error: .*cli-short\.f32: has 10 rows, the corpus has 300 items/);
    expect(r.stderr).not.toMatch(/index records/);
  });
});

describe("KV value limit", () => {
  it("stops the build at a value over the limit, naming it and the knob", async () => {
    const err = await runBuild({ corpus, vectors: good, out: path.join(t.dir, "small-limit"), quiet: true, checkQueries: 20, maxValueBytes: 2000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValueTooLargeError);
    expect((err as Error).message).toMatch(/^shard blob\/[0-9a-f]{32} \(leaf \d+\) is [\d,]+ bytes \(0\.\d\d MiB\), over the 2,000 bytes a Workers KV value may hold: lower --leaf-size \(now 24\)/);
  });
});
