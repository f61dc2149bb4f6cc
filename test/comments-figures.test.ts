// Comments say why; measured figures live in docs/decisions.md and the reports,
// where they can be regenerated, not in code comments, where they go stale.
// Every comment line in lib/, functions/ and scripts/ is checked against the
// figure pattern; the platform limits, specifications and constants' own values
// a comment quotes on purpose are allowed by file and exact phrase below.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT as ROOT } from "../scripts/common/paths.ts";

const DIRS = ["lib", "functions", "scripts"];

/** A quantity with a unit, a recall figure, a ratio, a before → after, or the word itself. */
const FIGURE =
  /([0-9][0-9.,]*\s?(MiB|MB|KB|KiB|GiB|ms\b| s\b|q\/s|%)|recall[@ a-z0-9]*[0-9]\.[0-9]|[0-9]\.[0-9]+ ?×|[0-9]\.[0-9]+ ?(→|->) ?[0-9]|[0-9] ?(texts|queries|items|puts)\/s|measured|Measured)/;

/** A line that is a comment, or the comment after code on a line. */
function commentOf(line: string): string | null {
  if (/^\s*(\/\/|\*|\/\*\*?)/.test(line)) return line;
  const at = line.search(/\s\/\/\s/);
  return at >= 0 ? line.slice(at) : null;
}

/** Figures kept on purpose: what the platform, a library or an API specifies, and constants' own values. */
const ALLOWED: Array<{ file: string; phrase: string; why: string }> = [
  { file: "lib/index/format.ts", phrase: "no KV value passes the 25 MiB limit", why: "KV's value limit" },
  { file: "lib/index/format.ts", phrase: "Workers KV refuses values over 25 MiB", why: "KV's value limit" },
  { file: "lib/index/format.ts", phrase: "12 MiB of bytes is 16 MiB of base64", why: "the constant and its base64 size" },
  { file: "scripts/builder/packing/value-limits.ts", phrase: "Workers KV refuses values over 25 MiB", why: "KV's value limit" },
  { file: "scripts/builder/packing/resident-blocks.ts", phrase: "inside Workers' 128 MB", why: "the isolate limit" },
  { file: "scripts/deploy/remote-kv.ts", phrase: "(≤10,000 pairs, ≤100 MB)", why: "the REST API's bulk limits" },
  { file: "scripts/deploy/remote-kv.ts", phrase: "(the API's: 10,000 pairs, 100 MB)", why: "the REST API's bulk limits" },
  { file: "scripts/deploy/remote-kv.ts", phrase: "the API's 100 MB", why: "the REST API's bulk limit" },
  { file: "scripts/deploy/remote-kv.ts", phrase: "(default 500 ms)", why: "the option's default" },
  { file: "scripts/deploy/remote-kv.ts", phrase: "capped at 30 s", why: "MAX_BACKOFF_MS" },
  { file: "functions/config.ts", phrase: "inside Workers' 128 MB", why: "the isolate limit" },
  { file: "functions/embed-budget.ts", phrase: "past Workers' 128 MB", why: "the isolate limit" },
  { file: "scripts/reliability/hostile.ts", phrase: "bodies up to 10 MB", why: "the property's own largest body" },
  { file: "scripts/reliability/cost-probes.ts", phrase: "none may take over 2 s", why: "issue 24's target" },
  { file: "functions/tf-wasm.ts", phrase: "WebAssembly pages are 64 KiB", why: "the wasm specification" },
  { file: "functions/tf-wasm.ts", phrase: "by 20 % over what malloc asked for (then 10 %, 5 %)", why: "Emscripten's growth policy" },
  { file: "functions/index-state.ts", phrase: "retried after 10 s, 20 s, 40 s, ... at most every 5 min", why: "RETRY_FIRST_MS and RETRY_MAX_MS" },
  { file: "scripts/reliability/deploy-under-load.ts", phrase: "(1 s here, 10 s deployed)", why: "POINTER_TTL_MS here and its default" },
  { file: "scripts/reliability/deploy-under-load.ts", phrase: "plus 5 s on each side", why: "the run's own constant" },
  { file: "scripts/artifacts/dir.ts", phrase: "over the 2 GiB one read can take", why: "Node's limit on one read" },
  { file: "scripts/bench/latency.ts", phrase: "≤ 1.5 × /embed p50", why: "the latency target" },
  { file: "scripts/bench/latency.ts", phrase: "≤ 5 ms", why: "the latency target" },
  { file: "scripts/commands/loadtest.ts", phrase: "Workers' 128 MB (122 MiB) less ~10 MiB of margin", why: "the isolate limit and MEMORY_LIMIT_MIB" },
  { file: "scripts/commands/loadtest.ts", phrase: "with 20 ms added to every shard and record read", why: "the fault run's injected delay" },
];

/** The .ts files under `dir`, as "dir/sub/file.ts", sorted. */
function tsFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true })
    .flatMap((e) => {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) return e.name === "node_modules" ? [] : tsFiles(rel);
      return e.isFile() && e.name.endsWith(".ts") ? [rel] : [];
    })
    .sort();
}

const files = DIRS.flatMap(tsFiles);
const text = new Map(files.map((f) => [f, readFileSync(path.join(ROOT, f), "utf8")]));

/** `file:line: text` of every comment line that quotes a figure, allowed phrases taken out first. */
function figureLines(): string[] {
  const found: string[] = [];
  for (const [file, src] of text) {
    const phrases = ALLOWED.filter((a) => a.file === file).map((a) => a.phrase);
    src.split("\n").forEach((line, i) => {
      let comment = commentOf(line);
      if (comment === null) return;
      for (const p of phrases) comment = comment.split(p).join(" ");
      if (FIGURE.test(comment)) found.push(`${file}:${i + 1}: ${line.trim()}`);
    });
  }
  return found;
}

describe("code comments", () => {
  it("scans the source folders", () => {
    expect(files.length).toBeGreaterThan(50);
    for (const dir of DIRS) expect(files.some((f) => f.startsWith(`${dir}/`))).toBe(true);
  });

  it("the pattern catches measured figures and leaves plain reasons alone", () => {
    const hits = (s: string) => FIGURE.test(commentOf(s) ?? "");
    expect(hits("// at 160 KB of shards")).toBe(true);
    expect(hits(" * recall@10 0.969 (questions 0.955)")).toBe(true);
    expect(hits("// measured 1.8× a row-at-a-time dot")).toBe(true);
    expect(hits("// sample PQ distortion 0.284 → 0.172")).toBe(true);
    expect(hits("const a = 1; // took 3 ms")).toBe(true);
    expect(hits("// smaller leaves cut bytes per unit of recall (docs/decisions.md#leaf-size)")).toBe(false);
    expect(hits('const url = "https://x/5 ms";')).toBe(false);
  });

  it("quote no measured figures (they go in docs/decisions.md)", () => {
    expect(figureLines()).toEqual([]);
  });

  it("allow only phrases that are still there", () => {
    const stale = ALLOWED.filter((a) => !(text.get(a.file) ?? "").includes(a.phrase)).map((a) => `${a.file}: ${a.phrase}`);
    expect(stale).toEqual([]);
  });

  it("link only to sections docs/decisions.md has", () => {
    const doc = readFileSync(path.join(ROOT, "docs", "decisions.md"), "utf8");
    const anchors = new Set(
      [...doc.matchAll(/^#+ (.+)$/gm)].map((m) => m[1].trim().toLowerCase().replace(/[^\p{L}\p{N} -]/gu, "").replace(/ /g, "-")),
    );
    const links = [...text].flatMap(([file, src]) => [...src.matchAll(/docs\/decisions\.md#([a-z0-9-]+)/g)].map((m) => ({ file, anchor: m[1] })));
    expect(links.length).toBeGreaterThan(10);
    expect(links.filter((l) => !anchors.has(l.anchor)).map((l) => `${l.file}#${l.anchor}`)).toEqual([]);
  });
});
