// Issue 24's configuration findings, read from the files themselves: a pull
// request's jobs hold no deploy secret, deploys run from main through a
// protected environment, the token is read-only by default, actions are pinned
// by SHA, npm honours allowScripts; wrangler.toml caps CPU and turns the
// workers.dev URL off once a route exists; local secrets are never committed.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { PROJECT_ROOT } from "../scripts/common/paths.ts";

const read = (...p: string[]) => readFileSync(path.join(PROJECT_ROOT, ...p), "utf8");
const wf = parse(read(".github", "workflows", "deploy.yml"), { strict: true, uniqueKeys: true }) as any;
type Step = { run?: string; uses?: string; env?: Record<string, string>; with?: Record<string, unknown> };

/** The jobs a pull request can run: every job whose `if` does not exclude pull_request. */
const prJobs = Object.entries(wf.jobs as Record<string, { if?: string }>)
  .filter(([, job]) => !/github\.event_name != 'pull_request'/.test(job.if ?? ""))
  .map(([name]) => name);

describe("CI workflow", () => {
  it("no job a pull request runs can read a secret (the plan holds no Cloudflare token)", () => {
    expect(prJobs.sort()).toEqual(["plan", "test"]);
    for (const name of prJobs) expect(JSON.stringify(wf.jobs[name]), name).not.toMatch(/secrets\.|CLOUDFLARE_API_TOKEN/);
  });

  it("deploys only from main, through the protected production environment", () => {
    const deploy = wf.jobs.deploy;
    expect(deploy.if).toBe("github.event_name != 'pull_request' && github.ref == 'refs/heads/main'");
    expect(deploy.environment).toBe("production");
    expect(JSON.stringify(deploy)).toMatch(/secrets\.CLOUDFLARE_API_TOKEN/);
  });

  it("gives GITHUB_TOKEN contents: read by default and no job more", () => {
    expect(wf.permissions).toEqual({ contents: "read" });
    for (const [name, job] of Object.entries(wf.jobs as Record<string, { permissions?: unknown }>)) expect(job.permissions, name).toBeUndefined();
  });

  it("pins every action by a full commit SHA", () => {
    const uses = Object.values(wf.jobs as Record<string, { steps: Step[] }>).flatMap((j) => j.steps.map((s) => s.uses).filter((u): u is string => !!u));
    expect(uses.length).toBeGreaterThanOrEqual(12);
    for (const u of uses) expect(u).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/);
  });

  it("installs with a pinned npm that honours strict-allow-scripts, and checkout keeps no credentials", () => {
    expect(wf.env.NPM_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
    for (const [name, job] of Object.entries(wf.jobs as Record<string, { steps: Step[] }>)) {
      const i = job.steps.findIndex((s) => s.run?.includes('npm install -g "npm@$NPM_VERSION"'));
      const ci = job.steps.findIndex((s) => s.run === "npm ci");
      expect(i, name).toBeGreaterThanOrEqual(0);
      expect(i, name).toBeLessThan(ci);
      expect(job.steps.find((s) => s.uses?.startsWith("actions/checkout@"))?.with?.["persist-credentials"], name).toBe(false);
    }
    expect(read(".npmrc")).toMatch(/^strict-allow-scripts=true$/m);
  });
});

describe("wrangler.toml and the repository", () => {
  const { unstable_readConfig } = createRequire(import.meta.url)("wrangler") as typeof import("wrangler");
  const config = unstable_readConfig({ config: path.join(PROJECT_ROOT, "wrangler.toml") }, { hideWarnings: true });

  it("caps CPU per invocation", () => {
    expect(config.limits?.cpu_ms).toBeGreaterThan(0);
    expect(config.limits!.cpu_ms!).toBeLessThanOrEqual(30_000);
  });

  it("with a route, workers_dev and preview_urls are off (the workers.dev URL bypasses the zone's cache and WAF)", () => {
    const hasRoute = (config.routes?.length ?? 0) > 0 || config.route !== undefined;
    if (hasRoute) {
      expect(config.workers_dev).toBe(false);
      expect(config.preview_urls).toBe(false);
    }
    // The instruction stands beside the setting for when the route is added.
    expect(read("wrangler.toml")).toMatch(/workers_dev = false[\s\S]*preview_urls = false/);
  });

  it("never commits local secrets", () => {
    const ignored = read(".gitignore").split("\n").map((l) => l.trim());
    expect(ignored).toContain(".dev.vars");
    expect(ignored).toContain(".api-keys.json");
  });
});
