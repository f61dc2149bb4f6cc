// Browser fixtures for the page tests: Debian's system Chromium driven by
// playwright-core (never a downloaded browser), and a Worker in workerd on a
// private copy of the index fixture's KV store.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { inject } from "vitest";
import { chromium, type Browser, type Response as PageResponse } from "playwright-core";
import { validateResponse, validating } from "./openapi.ts";
import { startLocalWorker, type LocalWorker } from "../../scripts/local/harness.ts";
import { runBuild } from "../../scripts/builder/build.ts";
import { publishToLocalKv } from "../../scripts/local/bulk-load.ts";
import { copyKvTemplate, ensureIndexFixture, fixtureJsonlLines, type IndexFixture } from "./index-fixture.ts";
import { DEFAULT_CACHE, PROJECT_ROOT } from "../../scripts/common/paths.ts";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
/** Screenshots of every state the suite checks (git-ignored), to look at after a run. */
export const SCREENSHOT_DIR = path.join(PROJECT_ROOT, "test", "screenshots");

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Contract breaks in responses the page received (helpers/openapi.ts); the page suite expects none. */
const contractErrors: string[] = [];
const pending = new Set<Promise<void>>();

/** Every Worker response the browser received, validated against the OpenAPI document; the violations. */
export async function browserContractErrors(): Promise<string[]> {
  await Promise.all(pending);
  return contractErrors;
}

async function checkPageResponse(r: PageResponse): Promise<void> {
  const url = new URL(r.url());
  if (url.hostname !== "127.0.0.1" || !/^\/(v1\/|search|embed|fields|examples|healthz|$)/.test(url.pathname)) return;
  // A page navigated away may have dropped the body: nothing to check.
  const body = await r.text().catch(() => undefined);
  if (body === undefined) return;
  try {
    validateResponse(r.request().method(), url, r.status(), new Headers(await r.allHeaders()), body);
  } catch (e) {
    contractErrors.push((e as Error).message);
  }
}

/** Playwright gives each launch a fresh temporary profile (--user-data-dir). Each context's responses are validated. */
export async function launchChromium(): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
  const newContext = browser.newContext.bind(browser);
  browser.newContext = async (...args: Parameters<Browser["newContext"]>) => {
    const context = await newContext(...args);
    context.on("response", (r) => {
      const p = checkPageResponse(r).finally(() => pending.delete(p));
      pending.add(p);
    });
    return context;
  };
  return browser;
}

/**
 * What the browser suite needs, or why it cannot run here: a system Chromium and
 * the index fixture (the global setup's, or built now when this file runs alone).
 */
export async function browserSuitePrerequisites(): Promise<{ fixture: IndexFixture } | { skip: string }> {
  if (!existsSync(CHROMIUM_PATH)) return { skip: `no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH)` };
  try {
    return { fixture: inject("indexFixture") ?? (await ensureIndexFixture()) };
  } catch (e) {
    return { skip: `the index fixture cannot be built: ${(e as Error).message.split("\n")[0]}` };
  }
}

export interface IndexWorker extends LocalWorker {
  persistDir: string;
}

/** A Worker (its answers checked against the OpenAPI document) on the KV in `persistDir`; disposing of it removes `ownDir`, the folder that holds that KV. */
async function serveKv(persistDir: string, ownDir: string): Promise<IndexWorker> {
  const worker = validating(await startLocalWorker({ persistDir, bundle: inject("workerBundle") }));
  return {
    ...worker,
    persistDir,
    async dispose() {
      await worker.dispose();
      await rm(ownDir, { recursive: true, force: true });
    },
  };
}

/** A Worker serving a private copy of the fixture's published index. */
export async function startIndexWorker(fixture: IndexFixture): Promise<IndexWorker> {
  const persistDir = await mkdtemp(path.join(os.tmpdir(), "ess-page-test-"));
  await copyKvTemplate(fixture, persistDir);
  return serveKv(persistDir, persistDir);
}

/**
 * A Worker serving a second real index: the fixture's headlines and dates as
 * JSONL plus the metadata `columns(i, text)` gives row i (e.g. a column of a
 * few values, which the build makes a low-cardinality field). The texts are the fixture's, so their
 * embeddings come from the cache and the build takes seconds.
 */
export async function startCategoryIndexWorker(columns: (i: number, text: string) => Record<string, string | number>): Promise<IndexWorker> {
  const work = await mkdtemp(path.join(os.tmpdir(), "ess-page-category-"));
  try {
    const lines = await fixtureJsonlLines(columns);
    const corpus = path.join(work, "corpus.jsonl");
    await writeFile(corpus, lines.join("\n") + "\n");
    const out = path.join(work, "artifacts");
    await runBuild({ corpus, out, cacheDir: process.env.ESS_TEST_EMBED_CACHE || DEFAULT_CACHE, quiet: true, checkQueries: 50 });
    const persistDir = path.join(work, "kv");
    await mkdir(persistDir);
    await publishToLocalKv(persistDir, out);
    return await serveKv(persistDir, work);
  } catch (e) {
    await rm(work, { recursive: true, force: true });
    throw e;
  }
}

export async function screenshotPath(name: string): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  return path.join(SCREENSHOT_DIR, `${name}.png`);
}
