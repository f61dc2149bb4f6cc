// .github/workflows/deploy.yml is valid YAML, runs only scripts that exist, and
// deploys only on pushes (pull requests get the dry-run plan).
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { PROJECT_ROOT } from "../scripts/common/paths.ts";

const file = path.join(PROJECT_ROOT, ".github", "workflows", "deploy.yml");
const text = readFileSync(file, "utf8");
const wf = parse(text, { strict: true, uniqueKeys: true }) as any;
const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
type Step = { run?: string; uses?: string; env?: Record<string, string>; if?: string; with?: Record<string, string> };
const steps = (job: string): Step[] => wf.jobs[job].steps;
const runs = (job: string) => steps(job).map((s) => s.run ?? "").join("\n");

describe("deploy workflow", () => {
  it("is valid YAML with the expected triggers and jobs", () => {
    expect(text).not.toMatch(/\t/);
    expect(Object.keys(wf.on).sort()).toEqual(["pull_request", "push", "workflow_dispatch"]);
    expect(wf.on.push.branches).toEqual(["main"]);
    for (const ev of ["push", "pull_request"]) {
      expect(wf.on[ev].paths).toEqual(expect.arrayContaining(["corpus/**", "functions/**", "lib/**", "scripts/**", "wrangler.toml", "package-lock.json"]));
    }
    expect(Object.keys(wf.jobs).sort()).toEqual(["deploy", "plan", "test"]);
    expect(wf.jobs.plan.needs).toBe("test");
    expect(wf.jobs.deploy.needs).toBe("test");
    expect(wf.jobs.plan.if).toMatch(/pull_request/);
    expect(wf.jobs.deploy.if).toMatch(/github.event_name != 'pull_request'/);
    expect(wf.jobs.deploy.concurrency).toMatchObject({ "cancel-in-progress": false });
  });

  it("names only npm scripts and files that exist", () => {
    const all = Object.keys(wf.jobs).map(runs).join("\n");
    const used = [...all.matchAll(/npm (?:run (\S+)|(test)\b)/g)].map((m) => m[1] ?? m[2]);
    expect(used).toEqual(expect.arrayContaining(["test", "deploy", "versions"]));
    for (const s of used) expect(pkg.scripts[s], `npm script "${s}"`).toBeDefined();
    for (const s of ["deploy", "rollback", "versions"]) expect(existsSync(path.join(PROJECT_ROOT, pkg.scripts[s].replace(/^tsx /, "")))).toBe(true);
    expect(pkg.scripts.deploy).toBe("tsx scripts/deploy.ts");
    expect(pkg.scripts.rollback).toBe("tsx scripts/rollback.ts");
    expect(pkg.scripts.versions).toBe("tsx scripts/versions.ts");
  });

  it("tests before deploying, plans on pull requests, deploys with the secrets on pushes", () => {
    expect(runs("test")).toMatch(/npm test/);
    expect(runs("plan")).toMatch(/npm run deploy -- --corpus "\$CORPUS" --dry-run/);
    expect(runs("deploy")).toMatch(/npm run deploy -- --corpus "\$CORPUS"(?! --dry-run)/);
    expect(runs("deploy")).not.toMatch(/--dry-run|--local|--force/);
    const deployStep = steps("deploy").find((s) => s.run?.includes("npm run deploy"))!;
    expect(deployStep.env).toEqual({ CLOUDFLARE_API_TOKEN: "${{ secrets.CLOUDFLARE_API_TOKEN }}", CLOUDFLARE_ACCOUNT_ID: "${{ secrets.CLOUDFLARE_ACCOUNT_ID }}" });
  });

  it("caches node_modules and the embedding cache in every job", () => {
    for (const job of Object.keys(wf.jobs)) {
      const caches = steps(job).filter((s) => s.uses?.startsWith("actions/cache@"));
      expect(caches.map((c) => c.with!.path).sort(), job).toEqual([".cache/embeddings", "node_modules"]);
      expect(caches.find((c) => c.with!.path === "node_modules")!.with!.key).toMatch(/hashFiles\('package-lock.json'\)/);
      expect(steps(job).find((s) => s.run === "npm ci")?.if).toMatch(/cache-hit != 'true'/);
    }
  });
});
