// The Worker's Env type is generated from wrangler.toml (`npm run types`); a
// binding or var added to the config without regenerating fails here.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { WRANGLER_ENV, wranglerBin } from "../scripts/local/harness.ts";
import { PROJECT_ROOT } from "../scripts/common/paths.ts";

it("functions/worker-configuration.d.ts is what `npm run types` generates from wrangler.toml", async () => {
  const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
  const args = pkg.scripts.types.split(" ").slice(1);
  const r = await new Promise<{ code: number; out: string }>((resolve) =>
    execFile(wranglerBin(), [...args, "--check"], { cwd: PROJECT_ROOT, env: { ...process.env, ...WRANGLER_ENV } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as NodeJS.ErrnoException).code ?? 1) : 0, out: stdout + stderr }),
    ),
  );
  expect(r.out).toContain("are up to date");
  expect(r.code, r.out).toBe(0);
}, 60_000);
