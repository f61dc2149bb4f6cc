// `--kv-change`: the small change of scale-kv.ts (CHANGE_SHARE) built and counted, not estimated.
// The bench's set with CHANGE_SHARE of its rows changed (corpus-change.ts) as the incremental
// bench changes the 50k headlines (half removed from the end, half edited in
// place) is built over the bench's index, as a deploy that extends the live
// version builds, and the two versions' values are compared kind by kind:
// what the deploy would upload. The build runs as `npm run build -- --extend`
// does, in its own process. It needs the set's size again on disk (a
// second corpus and vectors file, and the new version's values).
import { createReadStream, existsSync } from "node:fs";
import { mkdir, open, readFile, rm, stat } from "node:fs/promises";
import { createInterface } from "node:readline";
import path from "node:path";
import { normalizeInPlace } from "../../lib/model/embed.ts";
import { artifactVersionValues, readManifest } from "../artifacts/dir.ts";
import type { BuildReport } from "../builder/build.ts";
import { FileVectors } from "../builder/embedding/vector-source.ts";
import { buildInChild } from "./build-child.ts";
import { chooseChange, editedLine, rewritten } from "./corpus-change.ts";
import { CHANGE_SHARE, type KvKind } from "./scale-kv.ts";

export interface MeasuredChange {
  share: number;
  removed: number;
  edited: number;
  /** Values of the new version the base lacks (what its deploy uploads) and their stored bytes… */
  writes: number;
  bytes: number;
  /** …and the same by kind. */
  kinds: KvKind[];
  /** Whether the build kept the base's lexicon and wrote a delta (false: it rewrote the lexicon). */
  lexiconDelta: boolean;
  /** The change build's seconds (with the set's writing, when this run built it). */
  seconds: number;
  /** With --reuse-build: when the reused change build wrote its report. */
  reusedFrom?: string;
}

/**
 * An edited row's vector moves this far (a unit noise vector scaled by it, then
 * renormalised), so an edit can move its item to another leaf as a real one can.
 */
const EDIT_NOISE = 0.33;
/** Rows copied at a time. */
const COPY_ROWS = 50_000;

/** Builds the changed set over `baseDir` into `workDir` and measures what a deploy of it writes. */
export async function measureChange(set: { corpus: string; vectors: string }, baseDir: string, workDir: string, dim: number, o: { threads?: number; reuse?: boolean; log: (s: string) => void }): Promise<MeasuredChange> {
  const t0 = performance.now();
  const out = path.join(workDir, "index");
  const previous = path.join(out, "report.json");
  const reused = o.reuse && existsSync(previous);
  const { change, report } = reused ? await reuseChange(set, previous, dim, o.log) : await buildChange(set, baseDir, workDir, dim, o);
  const [baseManifest, nextManifest] = await Promise.all([readManifest(baseDir), readManifest(out)]);
  // A build that did not extend (its base unreadable or unfit, as its log says) partitions anew: its leaves and groups are not the base's.
  const same = (m: typeof baseManifest) => `${m.params.leaves}/${m.params.groups}`;
  if (same(nextManifest) !== same(baseManifest)) throw new Error(`the changed set's build did not extend ${baseDir} (leaves/groups ${same(baseManifest)} → ${same(nextManifest)}); see ${out}.log`);
  const kinds = rewritten(await artifactVersionValues(baseDir, baseManifest), await artifactVersionValues(out, nextManifest));
  kinds.push({ kind: "manifest", values: 1, bytes: (await stat(path.join(out, "manifest.json"))).size });
  const sum = (f: (k: KvKind) => number) => kinds.reduce((a, k) => a + f(k), 0);
  return {
    share: CHANGE_SHARE,
    removed: change.removed,
    edited: change.edited,
    writes: sum((k) => k.values),
    bytes: sum((k) => k.bytes),
    kinds,
    lexiconDelta: report.lexical.delta != null,
    seconds: reused ? report.seconds.total : (performance.now() - t0) / 1000,
    ...(reused ? { reusedFrom: (await stat(previous)).mtime.toISOString() } : {}),
  };
}

type Change = { change: { rows: number; removed: number; edited: number }; report: BuildReport };

/** Writes the changed set and builds it over the base, in its own process. */
async function buildChange(set: { corpus: string; vectors: string }, baseDir: string, workDir: string, dim: number, o: { threads?: number; log: (s: string) => void }): Promise<Change> {
  await mkdir(workDir, { recursive: true });
  const changed = { corpus: path.join(workDir, "changed.csv"), vectors: path.join(workDir, "changed.f32") };
  const change = await changedSet(set, changed, dim);
  o.log(`kv change: ${change.removed} rows removed and ${change.edited} edited of ${change.rows}; building over ${baseDir}`);
  const out = path.join(workDir, "index");
  await rm(out, { recursive: true, force: true });
  const flags = ["--corpus", changed.corpus, "--vectors", changed.vectors, "--out", out, "--extend", baseDir];
  if (o.threads) flags.push("--threads", String(o.threads));
  return { change, report: await buildInChild(flags, `${out}.log`, o.log) };
}

/** The change a previous run built (with --reuse-build): its report, and the rows chooseChange gives the set. */
async function reuseChange(set: { vectors: string }, report: string, dim: number, log: (s: string) => void): Promise<Change> {
  const rows = (await stat(set.vectors)).size / (dim * 4);
  const { removed, edited } = chooseChange(rows);
  log(`kv change: reusing the build in ${path.dirname(report)}`);
  return { change: { rows, removed, edited: edited.size }, report: JSON.parse(await readFile(report, "utf8")) as BuildReport };
}

/**
 * Writes the changed set (chooseChange), the corpus streamed a line at a time
 * (a 10M-item corpus's lines outgrow the bench's heap). The set has a vector a
 * row, so the vectors file gives the row count up front; its rows carry ids,
 * so removing rows renumbers nothing.
 */
async function changedSet(set: { corpus: string; vectors: string }, out: { corpus: string; vectors: string }, dim: number): Promise<{ rows: number; removed: number; edited: number }> {
  const rows = (await stat(set.vectors)).size / (dim * 4);
  const { kept, removed, edited, random } = chooseChange(rows);
  const corpus = await open(out.corpus, "w");
  let row = -1;
  try {
    let batch: string[] = [];
    for await (const raw of createInterface({ input: createReadStream(set.corpus), crlfDelay: Infinity })) {
      const line = raw.replace(/\r$/, "");
      if (line.length === 0) continue;
      if (row >= 0 && row < kept) batch.push(edited.has(row) ? editedLine(line) : line);
      else if (row < 0) batch.push(line);
      row++;
      if (batch.length === COPY_ROWS) {
        await corpus.write(batch.join("\n") + "\n");
        batch = [];
      }
    }
    if (batch.length) await corpus.write(batch.join("\n") + "\n");
  } finally {
    await corpus.close();
  }
  if (row !== rows) throw new Error(`${set.corpus} has ${row} rows, its vectors ${rows}`);
  await changedVectors(set.vectors, out.vectors, rows, kept, dim, edited, random);
  return { rows, removed, edited: edited.size };
}

/** The first `kept` vectors of the set's `rows`, the edited rows' moved by EDIT_NOISE, a chunk at a time. */
async function changedVectors(from: string, to: string, rows: number, kept: number, dim: number, edited: Set<number>, random: () => number): Promise<void> {
  const src = await FileVectors.open(from, rows, dim);
  const dst = await open(to, "w");
  try {
    const buf = new Float32Array(COPY_ROWS * dim);
    for (let start = 0; start < kept; start += COPY_ROWS) {
      const end = Math.min(kept, start + COPY_ROWS);
      const chunk = await src.read(start, end, buf.subarray(0, (end - start) * dim));
      for (let r = start; r < end; r++) if (edited.has(r)) moveVector(chunk.subarray((r - start) * dim, (r - start + 1) * dim), random);
      await dst.write(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    }
  } finally {
    await src.close();
    await dst.close();
  }
}

/** Adds a random direction of length EDIT_NOISE and renormalises. */
function moveVector(v: Float32Array, random: () => number): void {
  const noise = normalizeInPlace(Float32Array.from(v, () => random() * 2 - 1));
  for (let i = 0; i < v.length; i++) v[i] += EDIT_NOISE * noise[i];
  normalizeInPlace(v);
}
