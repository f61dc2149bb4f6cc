// The full bench's files: the JSON report, its Markdown tables, and the
// recall-vs-bytes curve as CSV and PNG.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { curveCsv } from "./curve.ts";
import { recallBytesSvg, svgToPng } from "./plot.ts";
import { curveRows, figureSeries, markdown } from "./report.ts";
import type { BenchResult } from "./run.ts";

export async function writeOutputs(r: BenchResult, o: { json?: string; md?: string; plotDir: string }): Promise<void> {
  await mkdir(o.plotDir, { recursive: true });
  await writeFile(path.join(o.plotDir, "recall-vs-bytes.csv"), curveCsv(curveRows(r)));
  const svg = recallBytesSvg(figureSeries(r), {
    title: `Recall@10 vs bytes per query — ${r.meta.corpus.file} (${r.meta.corpus.items} items)`,
    subtitle: `${r.meta.queries.count} queries, exact float32 ground truth; Annoy/hnswlib bytes = int8 vectors compared + index structure read · commit ${r.meta.git.commit.slice(0, 10)}`,
    target: r.meta.targetRecall,
  });
  await writeFile(path.join(o.plotDir, "recall-vs-bytes.png"), svgToPng(svg));
  if (o.json) {
    await mkdir(path.dirname(o.json), { recursive: true });
    await writeFile(o.json, JSON.stringify(r, null, 1) + "\n");
  }
  if (o.md) {
    await mkdir(path.dirname(o.md), { recursive: true });
    await writeFile(o.md, markdown(r));
  }
}
