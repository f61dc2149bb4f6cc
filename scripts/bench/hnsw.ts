// hnswlib (npm hnswlib-node 3.0.0, cosine space) as a baseline. The native
// index answers and is timed; a TypeScript replay of hnswlib's searchKnn over
// the graph it saved (HnswGraph: same greedy descent through the upper layers,
// same ef-bounded best-first search of layer 0, same stopping rule) counts what
// a query touches — the nodes whose vectors it compares and the nodes it
// expands, each expansion a dependent step, i.e. one KV round trip if the graph
// lived in KV — which the binding does not expose.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import type { HierarchicalNSW as HnswType } from "hnswlib-node";

const require = createRequire(import.meta.url);
const { HierarchicalNSW } = require("hnswlib-node") as { HierarchicalNSW: typeof HnswType };

export interface HnswParams {
  m: number;
  efConstruction: number;
  seed: number;
}

export async function hnswIndexFile(vectors: Float32Array, dim: number, p: HnswParams, cacheDir: string): Promise<{ file: string; buildSeconds: number | null; bytes: number }> {
  const key = createHash("sha256").update(new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength)).update(`hnswlib-node3 ${dim} ${p.m} ${p.efConstruction} ${p.seed}`).digest("hex").slice(0, 16);
  await mkdir(cacheDir, { recursive: true });
  const file = path.join(cacheDir, `hnsw-${dim}d-M${p.m}-ef${p.efConstruction}-${key}.bin`);
  let buildSeconds: number | null = null;
  if (!existsSync(file)) {
    const t0 = performance.now();
    const n = vectors.length / dim;
    const idx = new HierarchicalNSW("cosine", dim);
    idx.initIndex(n, p.m, p.efConstruction, p.seed);
    for (let i = 0; i < n; i++) idx.addPoint(Array.from(vectors.subarray(i * dim, (i + 1) * dim)), i);
    const tmp = `${file}.${process.pid}.tmp`;
    idx.writeIndexSync(tmp);
    await rename(tmp, file);
    buildSeconds = (performance.now() - t0) / 1000;
  }
  return { file, buildSeconds, bytes: (await stat(file)).size };
}

export function loadNativeHnsw(file: string, dim: number): HnswType {
  const idx = new HierarchicalNSW("cosine", dim);
  idx.readIndexSync(file);
  return idx;
}

export interface HnswTouch {
  rows: number[];
  /** Vectors compared with the query (distance computations), all layers. */
  visited: number;
  /** Nodes whose neighbour lists were read: greedy steps in the upper layers, pops in layer 0. */
  expansions: number;
  /** Bytes of the neighbour lists read (4-byte count + 4 bytes per slot, as hnswlib stores them). */
  linkBytes: number;
}

/** hnswlib's saved index (hnswalg.h saveIndex) and searchKnn replayed with counters. */
export class HnswGraph {
  private constructor(
    readonly dim: number,
    readonly n: number,
    readonly maxLevel: number,
    readonly entry: number,
    readonly maxM: number,
    readonly maxM0: number,
    readonly m: number,
    /** Layer-0 blocks: [u32 count][maxM0 × u32][dim × f32][u64 label] per element. */
    private readonly level0: DataView,
    private readonly level0F32: Float32Array,
    readonly sizePerElement: number,
    readonly offsetData: number,
    readonly labelOffset: number,
    /** Upper-layer link blocks per element (level l at (l-1) × (4 + 4·maxM)). */
    private readonly upper: Array<DataView | null>,
    readonly labels: Int32Array,
  ) {}

  static async open(file: string, dim: number): Promise<HnswGraph> {
    const buf = await readFile(file);
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let o = 0;
    const u64 = () => {
      const v = Number(view.getBigUint64(o, true));
      o += 8;
      return v;
    };
    const offsetLevel0 = u64();
    u64(); // max_elements
    const n = u64();
    const sizePerElement = u64();
    const labelOffset = u64();
    const offsetData = u64();
    const maxLevel = view.getInt32(o, true);
    o += 4;
    const entry = view.getUint32(o, true);
    o += 4;
    const maxM = u64();
    const maxM0 = u64();
    const m = u64();
    o += 8; // mult
    u64(); // ef_construction
    if (offsetLevel0 !== 0 || offsetData !== 4 + 4 * maxM0 || (labelOffset - offsetData) / 4 !== dim) throw new Error(`${file} is not an hnswlib index of ${dim}-d floats`);
    const level0Bytes = n * sizePerElement;
    // A copy at an aligned offset so vectors can be read as Float32Array.
    const l0 = new Uint8Array(level0Bytes);
    l0.set(buf.subarray(o, o + level0Bytes));
    o += level0Bytes;
    const level0 = new DataView(l0.buffer);
    const upper: Array<DataView | null> = new Array(n).fill(null);
    for (let i = 0; i < n; i++) {
      const size = view.getUint32(o, true);
      o += 4;
      if (size) {
        upper[i] = new DataView(buf.buffer, buf.byteOffset + o, size);
        o += size;
      }
    }
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) labels[i] = Number(level0.getBigUint64(i * sizePerElement + labelOffset, true));
    return new HnswGraph(dim, n, maxLevel, entry, maxM, maxM0, m, level0, new Float32Array(l0.buffer), sizePerElement, offsetData, labelOffset, upper, labels);
  }

  private dist(q: Float32Array, id: number): number {
    const o = (id * this.sizePerElement + this.offsetData) / 4;
    const v = this.level0F32;
    let s = 0;
    for (let j = 0; j < this.dim; j++) s += q[j] * v[o + j];
    return Math.fround(1 - Math.fround(s));
  }

  private links(id: number, level: number): number[] {
    let view: DataView;
    let base: number;
    if (level === 0) {
      view = this.level0;
      base = id * this.sizePerElement;
    } else {
      view = this.upper[id]!;
      base = (level - 1) * (4 + 4 * this.maxM);
    }
    const count = view.getUint16(base, true);
    const out = new Array<number>(count);
    for (let j = 0; j < count; j++) out[j] = view.getUint32(base + 4 + 4 * j, true);
    return out;
  }

  /** `q` must be unit length (hnswlib-node normalises queries in cosine space). */
  search(q: Float32Array, k: number, ef: number): HnswTouch {
    let visited = 1;
    let expansions = 0;
    let linkBytes = 0;
    let cur = this.entry;
    let curDist = this.dist(q, cur);
    for (let level = this.maxLevel; level > 0; level--) {
      let changed = true;
      while (changed) {
        changed = false;
        const nb = this.links(cur, level);
        expansions++;
        linkBytes += 4 + 4 * this.maxM;
        visited += nb.length;
        for (const c of nb) {
          const d = this.dist(q, c);
          if (d < curDist) {
            curDist = d;
            cur = c;
            changed = true;
          }
        }
      }
    }
    // searchBaseLayerST, bare-bone variant (no deletions, no filter).
    const efs = Math.max(ef, k);
    const seen = new Uint8Array(this.n);
    const top = new Heap(); // max-heap on distance: the worst result on top
    const cand = new Heap(); // max-heap on -distance: the closest candidate on top
    let lowerBound = curDist;
    top.push(curDist, cur);
    cand.push(-curDist, cur);
    seen[cur] = 1;
    while (cand.size > 0) {
      const [negD, id] = cand.peek();
      if (-negD > lowerBound) break;
      cand.pop();
      const nb = this.links(id, 0);
      expansions++;
      linkBytes += 4 + 4 * this.maxM0;
      for (const c of nb) {
        if (seen[c]) continue;
        seen[c] = 1;
        visited++;
        const d = this.dist(q, c);
        if (top.size < efs || lowerBound > d) {
          cand.push(-d, c);
          top.push(d, c);
          if (top.size > efs) top.pop();
          lowerBound = top.peek()[0];
        }
      }
    }
    const res: Array<[number, number]> = [];
    while (top.size) res.push(top.pop());
    res.reverse();
    return { rows: res.slice(0, k).map(([, id]) => this.labels[id]), visited, expansions, linkBytes };
  }
}

/** Max-heap on the first element, as std::priority_queue with CompareByFirst. */
class Heap {
  private a: Array<[number, number]> = [];
  get size(): number {
    return this.a.length;
  }
  peek(): [number, number] {
    return this.a[0];
  }
  push(d: number, id: number): void {
    const a = this.a;
    a.push([d, id]);
    let c = a.length - 1;
    while (c > 0) {
      const p = (c - 1) >> 1;
      if (a[p][0] >= a[c][0]) break;
      [a[p], a[c]] = [a[c], a[p]];
      c = p;
    }
  }
  pop(): [number, number] {
    const a = this.a;
    const top = a[0];
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      let p = 0;
      for (;;) {
        const l = 2 * p + 1;
        const r = l + 1;
        let m = p;
        if (l < a.length && a[l][0] > a[m][0]) m = l;
        if (r < a.length && a[r][0] > a[m][0]) m = r;
        if (m === p) break;
        [a[p], a[m]] = [a[m], a[p]];
        p = m;
      }
    }
    return top;
  }
}
