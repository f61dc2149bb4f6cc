// Where and when a report's figures were taken: every docs/*.json carries
// it, so the README and the docs never need to say it.
import { execFileSync } from "node:child_process";
import os from "node:os";
import { PROJECT_ROOT } from "./paths.ts";

export interface RunMeta {
  date: string;
  /** HEAD when the run started, and whether tracked files differed from it. */
  commit: string;
  dirty: boolean;
  machine: { cpus: number; model: string; memGiB: number };
  node: string;
  /** 1-minute load average at the start (and at the end, once `finishRun` is called). */
  load: { start: number; end?: number };
}

function git(args: string[]): string {
  try {
    return execFileSync("git", args, { cwd: PROJECT_ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "";
  }
}

/** The run's metadata, read when the run starts. */
export function startRun(): RunMeta {
  return {
    date: new Date().toISOString(),
    commit: git(["rev-parse", "HEAD"]) || "unknown",
    dirty: git(["status", "--porcelain", "--untracked-files=no"]) !== "",
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? "unknown", memGiB: Math.round(os.totalmem() / 2 ** 30) },
    node: process.version,
    load: { start: +os.loadavg()[0].toFixed(2) },
  };
}

/** The same, with the load at the end. */
export function finishRun(meta: RunMeta): RunMeta {
  return { ...meta, load: { ...meta.load, end: +os.loadavg()[0].toFixed(2) } };
}
