// Where a large build's memory goes, stage by stage. The build runs with a
// heap limit far above what it keeps (package.json), so V8 lets garbage pile
// up between major collections. A build started with --expose-gc collects at
// each stage's end, so the stage log's memory line is what the build still
// holds and the next stage does not start on the last one's garbage. It does
// not bound a stage's own peak: that is the stage's data structures
// (docs/decisions.md#streamed-build).

const gc = (globalThis as { gc?: () => void }).gc;

/** A full collection when the process was started with --expose-gc; otherwise nothing. */
export function collectGarbage(): void {
  gc?.();
}

/** RSS, and of it the JS heap and the buffers outside it, in GiB: what the stage log prints. */
export function memoryLine(): string {
  const m = process.memoryUsage();
  const gib = (b: number) => (b / 2 ** 30).toFixed(2);
  return `RSS ${gib(m.rss)} GiB (heap ${gib(m.heapUsed)}, buffers ${gib(m.external)})`;
}
