// One small corpus change, shared by the incremental bench (the 50k headlines)
// and the scale bench's --kv-change: CHANGE_SHARE of the rows, the last half of
// them removed and as many others (seeded) edited in place, and what a deploy
// of the changed version uploads over the base (the values the base lacks).
import { readFile } from "node:fs/promises";
import type { ValueRef, VersionValues } from "../../lib/index/version.ts";
import { rng } from "../builder/training/kernels.ts";
import { CHANGE_SHARE, type KvKind } from "./scale-kv.ts";

/** Seed of the edited rows (and, in scale-change.ts, of their vectors' change). */
const SEED = 7;
/** Edited rows' text gains this word, so they are new items. */
const EDIT_WORD = "update";

/**
 * Which data rows a CHANGE_SHARE change touches: the last half of them
 * removed, as many others (seeded) edited. `random` goes on to seed the edits.
 */
export function chooseChange(rows: number): { kept: number; removed: number; edited: Set<number>; random: () => number } {
  const half = Math.round(rows * CHANGE_SHARE) >> 1;
  const kept = rows - half;
  const random = rng(SEED);
  const edited = new Set<number>();
  while (edited.size < half) edited.add(Math.floor(random() * kept));
  return { kept, removed: half, edited, random };
}

/** The line's last field (the text) gains EDIT_WORD, inside its quotes when it has them. */
export function editedLine(line: string): string {
  return line.endsWith('"') ? `${line.slice(0, -1)} ${EDIT_WORD}"` : `${line} ${EDIT_WORD}`;
}

/** A file's non-blank lines, without a CR at their end. */
export async function readLines(file: string): Promise<string[]> {
  return (await readFile(file, "utf8")).split("\n").map((l) => l.replace(/\r$/, "")).filter((l) => l.length > 0);
}

/** Values of `next` that `base` lacks, with their bytes, by kind. */
export function rewritten(base: VersionValues, next: VersionValues): KvKind[] {
  const kinds = Object.keys(next) as Array<keyof VersionValues>;
  return kinds.map((kind) => {
    const had = new Set(base[kind].map((r: ValueRef) => r.key));
    const fresh = next[kind].filter((r) => !had.has(r.key));
    return { kind, values: fresh.length, bytes: fresh.reduce((a, r) => a + r.bytes, 0) };
  });
}
