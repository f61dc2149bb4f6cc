// Annoy (npm annoy 4.0.0, Spotify's annoylib.h, Angular metric) as a baseline:
// the native library answers the queries and is timed; a TypeScript replay of
// its search (AnnoyForest, over the index file it saved) counts what a query
// touches — split nodes, leaf buckets, and the candidate items whose vectors it
// must read — which the native binding does not expose. The replay follows
// `_get_all_nns` exactly (same priority queue order, same bucket expansion,
// same search_k stopping rule); its agreement with the native answers is
// reported so the counts can be trusted.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { rng } from "../builder/training/kernels.ts";

interface NativeAnnoy {
  addItem(i: number, v: number[]): void;
  build(trees?: number): boolean;
  save(file: string): boolean;
  load(file: string): boolean;
  unload(): void;
  getNItems(): number;
  getNNsByVector(v: number[], n: number, searchK: number, includeDistances: boolean): number[];
}
type AnnoyCtor = new (dim: number, metric: "Angular" | "Euclidean" | "Manhattan") => NativeAnnoy;

const require = createRequire(import.meta.url);
const Annoy = require("annoy") as AnnoyCtor;

/** Builds (or reuses, keyed by the vectors and tree count) an Angular Annoy index file. */
export async function annoyIndexFile(vectors: Float32Array, dim: number, trees: number, cacheDir: string): Promise<{ file: string; buildSeconds: number | null; bytes: number }> {
  const key = createHash("sha256").update(new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength)).update(`annoy4 ${dim} ${trees}`).digest("hex").slice(0, 16);
  await mkdir(cacheDir, { recursive: true });
  const file = path.join(cacheDir, `annoy-${dim}d-${trees}t-${key}.ann`);
  let buildSeconds: number | null = null;
  if (!existsSync(file)) {
    const t0 = performance.now();
    const idx = new Annoy(dim, "Angular");
    const n = vectors.length / dim;
    for (let i = 0; i < n; i++) idx.addItem(i, Array.from(vectors.subarray(i * dim, (i + 1) * dim)));
    idx.build(trees);
    const tmp = `${file}.${process.pid}.tmp`;
    if (!idx.save(tmp)) throw new Error(`annoy could not save ${tmp}`);
    idx.unload();
    await rename(tmp, file);
    buildSeconds = (performance.now() - t0) / 1000;
  }
  return { file, buildSeconds, bytes: (await stat(file)).size };
}

export function loadNativeAnnoy(file: string, dim: number): NativeAnnoy {
  const idx = new Annoy(dim, "Angular");
  if (!idx.load(file)) throw new Error(`annoy could not load ${file}`);
  return idx;
}

export interface AnnoyTouch {
  rows: number[];
  /** Distinct items whose vectors the query reads (after annoy's de-duplication). */
  candidates: number;
  /** Item ids collected before de-duplication (what search_k bounds). */
  rawCandidates: number;
  splitNodes: number;
  bucketNodes: number;
  /** Bytes of the split and bucket nodes popped, as annoy stores them. */
  treeBytes: number;
  /** Deepest tree level popped: a level-by-level KV traversal needs at least this many rounds before the candidates' round. */
  depth: number;
}

/** Annoy's index file read back, and its query algorithm replayed with counters. */
export class AnnoyForest {
  private constructor(
    readonly f: number,
    /** 32-bit words per node: n_descendants, children[2] / norm, v[f]. */
    readonly words: number,
    readonly ints: Int32Array,
    readonly floats: Float32Array,
    readonly nItems: number,
    readonly roots: number[],
    readonly K: number,
  ) {}

  static async open(file: string, f: number): Promise<AnnoyForest> {
    const buf = await readFile(file);
    const ab = buf.byteOffset % 4 === 0 ? buf.buffer : new Uint8Array(buf).buffer;
    const off = buf.byteOffset % 4 === 0 ? buf.byteOffset : 0;
    const words = 3 + f;
    const nNodes = buf.byteLength / (4 * words);
    if (!Number.isInteger(nNodes)) throw new Error(`${file} is not an annoy index of ${f}-d nodes`);
    const ints = new Int32Array(ab, off, nNodes * words);
    const floats = new Float32Array(ab, off, nNodes * words);
    // annoylib load(): the roots are the trailing run of nodes with equal n_descendants.
    const roots: number[] = [];
    let m = -1;
    for (let i = nNodes - 1; i >= 0; i--) {
      const k = ints[i * words];
      if (m === -1 || k === m) {
        roots.push(i);
        m = k;
      } else break;
    }
    if (roots.length > 1 && ints[roots[0] * words + 1] === ints[roots[roots.length - 1] * words + 1]) roots.pop();
    return new AnnoyForest(f, words, ints, floats, m, roots, words - 1);
  }

  search(q: Float32Array, k: number, searchK: number): AnnoyTouch {
    const { f, words, ints, floats, nItems, K } = this;
    if (searchK === -1) searchK = k * this.roots.length;
    const heap = new PairHeap();
    for (const r of this.roots) heap.push(Infinity, r, 0);
    const nns: number[] = [];
    let splitNodes = 0;
    let bucketNodes = 0;
    let treeBytes = 0;
    let depth = 0;
    while (nns.length < searchK && heap.size > 0) {
      const { d, i, depth: lvl } = heap.pop();
      const o = i * words;
      const nd = ints[o];
      if (nd === 1 && i < nItems) {
        nns.push(i);
      } else if (nd <= K) {
        for (let j = 0; j < nd; j++) nns.push(ints[o + 1 + j]);
        bucketNodes++;
        treeBytes += 4 + 4 * nd;
        depth = Math.max(depth, lvl);
      } else {
        let margin = 0;
        for (let j = 0; j < f; j++) margin += floats[o + 3 + j] * q[j];
        margin = Math.fround(margin);
        splitNodes++;
        treeBytes += 4 * words;
        depth = Math.max(depth, lvl);
        heap.push(Math.min(d, margin), ints[o + 2], lvl + 1);
        heap.push(Math.min(d, -margin), ints[o + 1], lvl + 1);
      }
    }
    const raw = nns.length;
    nns.sort((a, b) => a - b);
    const scored: Array<[number, number]> = [];
    let last = -1;
    for (const j of nns) {
      if (j === last) continue;
      last = j;
      if (ints[j * words] !== 1) continue;
      const o = j * words + 3;
      let s = 0;
      let nn = 0;
      for (let t = 0; t < f; t++) {
        s += floats[o + t] * q[t];
        nn += floats[o + t] * floats[o + t];
      }
      scored.push([nn > 0 ? s / Math.sqrt(nn) : -Infinity, j]);
    }
    scored.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    return { rows: scored.slice(0, k).map((x) => x[1]), candidates: scored.length, rawCandidates: raw, splitNodes, bucketNodes, treeBytes, depth: depth + 1 };
  }
}

/** std::priority_queue<pair<T, S>>: a max-heap on (distance, node id). */
class PairHeap {
  private d: number[] = [];
  private i: number[] = [];
  private l: number[] = [];
  get size(): number {
    return this.d.length;
  }
  private less(a: number, b: number): boolean {
    return this.d[a] < this.d[b] || (this.d[a] === this.d[b] && this.i[a] < this.i[b]);
  }
  private swap(a: number, b: number): void {
    [this.d[a], this.d[b]] = [this.d[b], this.d[a]];
    [this.i[a], this.i[b]] = [this.i[b], this.i[a]];
    [this.l[a], this.l[b]] = [this.l[b], this.l[a]];
  }
  push(d: number, i: number, l: number): void {
    this.d.push(d);
    this.i.push(i);
    this.l.push(l);
    let c = this.d.length - 1;
    while (c > 0) {
      const p = (c - 1) >> 1;
      if (!this.less(p, c)) break;
      this.swap(p, c);
      c = p;
    }
  }
  pop(): { d: number; i: number; depth: number } {
    const top = { d: this.d[0], i: this.i[0], depth: this.l[0] };
    const lastD = this.d.pop()!;
    const lastI = this.i.pop()!;
    const lastL = this.l.pop()!;
    if (this.d.length) {
      this.d[0] = lastD;
      this.i[0] = lastI;
      this.l[0] = lastL;
      let p = 0;
      for (;;) {
        const a = 2 * p + 1;
        const b = a + 1;
        let m = p;
        if (a < this.d.length && this.less(m, a)) m = a;
        if (b < this.d.length && this.less(m, b)) m = b;
        if (m === p) break;
        this.swap(p, m);
        p = m;
      }
    }
    return top;
  }
}

/** Gaussian random projection dim → out (entries N(0, 1/out)), seeded: the seed pipeline's 512→64. */
export function gaussianProjection(dim: number, out: number, seed = 12345): (v: Float32Array, o?: number) => Float32Array {
  const random = rng(seed);
  const m = new Float32Array(out * dim);
  const scale = 1 / Math.sqrt(out);
  for (let i = 0; i < m.length; i += 2) {
    const u1 = Math.max(random(), 1e-12);
    const u2 = random();
    const r = Math.sqrt(-2 * Math.log(u1));
    m[i] = r * Math.cos(2 * Math.PI * u2) * scale;
    if (i + 1 < m.length) m[i + 1] = r * Math.sin(2 * Math.PI * u2) * scale;
  }
  return (v, o = 0) => {
    const p = new Float32Array(out);
    for (let r = 0; r < out; r++) {
      let s = 0;
      const base = r * dim;
      for (let j = 0; j < dim; j++) s += m[base + j] * v[o + j];
      p[r] = s;
    }
    return p;
  };
}
