// The "self-check vs held-out" line of the bench reports: the recall the build
// predicted from its query proxies (scripts/builder/check/) beside the recall
// of the bench's own queries, which the build never saw, so the gap is in view.
import type { SelfCheck } from "../../lib/index/manifest.ts";

const f3 = (x: number) => x.toFixed(3);

function kinds(byKind: Record<string, number>): string {
  const parts = Object.entries(byKind).map(([k, v]) => `${k} ${f3(v)}`);
  return parts.length ? ` (${parts.join(", ")})` : "";
}

/** The self-check's nprobe: the curve point it kept (the manifest's nprobe when the probe margin is off). */
export function selfCheckNprobe(c: SelfCheck): number | undefined {
  return c.curve.find((p) => p.recallAt10 === c.recallAt10 && p.meanBytes === c.meanBytes)?.nprobe;
}

export function selfCheckVsHeldOut(c: SelfCheck, heldOut: number, heldOutByKind: Record<string, number>): string {
  const predicted = Object.fromEntries(Object.entries(c.byKind ?? {}).map(([k, v]) => [k, v.recallAt10]));
  const gap = heldOut - c.recallAt10;
  return `self-check ${f3(c.recallAt10)}${kinds(predicted)} at nprobe ${selfCheckNprobe(c) ?? "?"}${c.target === undefined ? "" : `, target ${c.target}`}; held-out ${f3(heldOut)}${kinds(heldOutByKind)}; held-out − self-check ${gap >= 0 ? "+" : "−"}${f3(Math.abs(gap))}`;
}
