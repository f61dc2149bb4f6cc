// Shared helpers for the offline-build tests: seeded random vectors, temp
// directories, the committed slice of the ABC headlines corpus, and the real CLIs.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { rng } from "../../scripts/builder/training/kernels.ts";
import type { CorpusItem } from "../../scripts/builder/corpus/read-corpus.ts";
import { PROJECT_ROOT } from "../../scripts/common/paths.ts";

export const FIXTURES = path.join(PROJECT_ROOT, "test", "fixtures");
/** 2,000 CC0 ABC headlines of 2003 (every 25th row of the shared 50k file), committed so a fresh clone runs the tests. */
export const HEADLINES_CSV = path.join(FIXTURES, "abcnews-2003-every25.csv");
/** Data that lives only beside this checkout (../shared/data); suites that need it skip when it is absent. */
export const SHARED_DATA = path.join(PROJECT_ROOT, "..", "shared", "data");

/**
 * The path of a file in ../shared/data, or undefined with the reason printed
 * once, for `describe.skipIf(!file)`: a fresh clone has no ../shared.
 */
export function sharedDataFile(name: string, suite: string): string | undefined {
  const file = path.join(SHARED_DATA, name);
  if (existsSync(file)) return file;
  process.stderr.write(`[skip] ${suite}: ${file} is absent (shared data lives only beside the main checkout)\n`);
  return undefined;
}

/** Standard normal deviates from a seeded uniform source (Box–Muller). */
export function gaussian(random: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    let u = 0;
    while (u === 0) u = random();
    const v = random();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

export function normalize(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const n = Math.sqrt(s);
  for (let i = 0; i < v.length; i++) v[i] /= n;
  return v;
}

export function randomUnitVectors(n: number, dim: number, seed: number): Float32Array {
  const g = gaussian(rng(seed));
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const v = out.subarray(i * dim, (i + 1) * dim);
    for (let d = 0; d < dim; d++) v[d] = g();
    normalize(v);
  }
  return out;
}

/**
 * n unit vectors in two-level clusters, like real embeddings: `centers` random
 * unit centers (nearly orthogonal in high dimension), `sub` sub-centers around
 * each at cosine ≈ 0.8, and points around a sub-center at cosine ≈ 0.9
 * (noise·N(0, I/dim) on each level, renormalised). Nearest neighbours are
 * mostly sub-cluster mates, ranked by the point noise.
 */
export function clusteredVectors(n: number, dim: number, centers: number, seed: number, sub = 6): { vectors: Float32Array; cluster: Int32Array } {
  const c = randomUnitVectors(centers, dim, seed);
  const g = gaussian(rng(seed + 1));
  const random = rng(seed + 2);
  const sd = 1 / Math.sqrt(dim);
  const subs = new Float32Array(centers * sub * dim);
  for (let k = 0; k < centers * sub; k++) {
    const v = subs.subarray(k * dim, (k + 1) * dim);
    const base = Math.floor(k / sub) * dim;
    for (let d = 0; d < dim; d++) v[d] = c[base + d] + 0.75 * sd * g();
    normalize(v);
  }
  const vectors = new Float32Array(n * dim);
  const cluster = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = Math.floor(random() * centers * sub);
    cluster[i] = Math.floor(k / sub);
    const v = vectors.subarray(i * dim, (i + 1) * dim);
    for (let d = 0; d < dim; d++) v[d] = subs[k * dim + d] + 0.5 * sd * g();
    normalize(v);
  }
  return { vectors, cluster };
}

export function madeUpItems(n: number): CorpusItem[] {
  return Array.from({ length: n }, (_, i) => ({ id: `item-${i}`, text: `synthetic item ${i}`, meta: { row: i } }));
}

export function exactDot(a: ArrayLike<number>, b: ArrayLike<number>, bOffset = 0): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[bOffset + i];
  return s;
}

export async function tempDir(prefix = "esr-build-test-"): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** The first `count` headlines (after skipping `skip`) of the committed ABC slice (2,000 rows). */
export async function headlines(count: number, skip = 0): Promise<Array<{ date: string; text: string }>> {
  const lines = (await readFile(HEADLINES_CSV, "utf8")).split("\n");
  if (lines[0].trim() !== "publish_date,headline_text") throw new Error(`unexpected header in ${HEADLINES_CSV}: ${lines[0]}`);
  const rows = lines
    .slice(1 + skip, 1 + skip + count)
    .map((l) => l.replace(/\r$/, ""))
    .filter((l) => l.length > 0)
    .map((l) => {
      const comma = l.indexOf(",");
      return { date: l.slice(0, comma), text: l.slice(comma + 1) };
    });
  if (rows.length !== count) throw new Error(`${HEADLINES_CSV} has ${rows.length} rows after ${skip}, not ${count}`);
  return rows;
}

export async function writeHeadlinesCsv(file: string, rows: Array<{ date: string; text: string }>): Promise<void> {
  const quote = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  await writeFile(file, ["publish_date,headline_text", ...rows.map((r) => `${r.date},${quote(r.text)}`)].join("\n") + "\n");
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a project script the way `npm run build|search` does (tsx), from the project root. */
export function runCli(script: "build" | "search", args: string[], timeoutMs = 120_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", path.join(PROJECT_ROOT, "scripts", `${script}.ts`), ...args],
      { cwd: PROJECT_ROOT, timeout: timeoutMs, maxBuffer: 64 * 2 ** 20, env: { ...process.env, NODE_NO_WARNINGS: "1" } },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as NodeJS.ErrnoException).code === "number" ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
