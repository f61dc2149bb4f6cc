// The build as its own process, as `npm run build` runs it: its report's peak
// RSS is that build's alone, and its heap limit the command's (a 10M-item
// corpus's items and values outgrow V8's default).
import { spawn } from "node:child_process";
import { open } from "node:fs/promises";
import type { BuildReport } from "../builder/build.ts";
import { PROJECT_ROOT } from "../common/paths.ts";

/** Runs scripts/build.ts with `flags` (and --json), its progress into `logFile`; resolves to its report. */
export async function buildInChild(flags: string[], logFile: string, log: (s: string) => void): Promise<BuildReport> {
  const args = ["tsx", "--max-old-space-size=16384", "--expose-gc", "scripts/build.ts", ...flags, "--json"];
  log(`build: npx ${args.join(" ")}`);
  // The build's progress goes to a log of its own, to follow a long build while it runs.
  log(`build: progress in ${logFile}`);
  const file = await open(logFile, "w");
  try {
    const child = spawn("npx", args, { cwd: PROJECT_ROOT, env: { ...process.env }, stdio: ["ignore", "pipe", file.fd] });
    let stdout = "";
    child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
    const code = await new Promise<number | null>((resolve, reject) => child.on("error", reject).on("close", resolve));
    if (code !== 0) throw new Error(`the build exited with ${code}; see ${logFile}`);
    return JSON.parse(stdout.trim().split("\n").pop()!) as BuildReport;
  } finally {
    await file.close();
  }
}
