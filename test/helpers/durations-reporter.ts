// Prints every test file's duration, slowest first, at the end of a run, so a
// file that grows slow is seen before the suite passes its 10-minute budget.
import type { Reporter, TestModule } from "vitest/node";

export default class DurationsReporter implements Reporter {
  private readonly files: Array<{ file: string; project: string; ms: number; state: string }> = [];

  onTestModuleEnd(m: TestModule): void {
    this.files.push({ file: m.relativeModuleId, project: m.project.name, ms: m.diagnostic().duration, state: m.state() });
  }

  onTestRunEnd(): void {
    if (this.files.length === 0) return;
    const rows = [...this.files].sort((a, b) => b.ms - a.ms);
    const total = rows.reduce((s, r) => s + r.ms, 0);
    const lines = rows.map((r) => `  ${(r.ms / 1000).toFixed(1).padStart(7)} s  ${r.project.padEnd(11)} ${r.file}${r.state === "passed" ? "" : `  (${r.state})`}`);
    process.stdout.write(`\nTest file durations (${rows.length} files, ${(total / 1000).toFixed(1)} s summed over parallel workers):\n${lines.join("\n")}\n`);
  }
}
