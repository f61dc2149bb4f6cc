// The page's search-mode control and its term marks, in Chromium on the real
// fixture index: the control sends mode= and keeps it in the URL, lexical hits
// mark exactly the words whose stems the query shares, each card shows both
// scores, and a stop-word query in lexical mode says why it found nothing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { browserSuitePrerequisites, launchChromium, startIndexWorker, type IndexWorker } from "./helpers/browser.ts";
import { tokenize } from "../lib/lexical/tokenize.ts";

declare const document: any;

const prerequisites = await browserSuitePrerequisites();
if ("skip" in prerequisites) console.warn(`[page-modes] skipped: ${prerequisites.skip}`);
const fixture = "fixture" in prerequisites ? prerequisites.fixture : undefined;
const WAIT_MS = 10_000;

describe.skipIf(!fixture)("the page's search modes", () => {
  let worker: IndexWorker;
  let browser: Browser;
  beforeAll(async () => {
    [worker, browser] = await Promise.all([startIndexWorker(fixture!), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await worker?.dispose();
  });

  async function searchFor(page: Page, q: string): Promise<void> {
    await page.fill("#q", q);
    await page.press("#q", "Enter");
    await page.waitForFunction(() => (document as any).querySelector("#results")?.getAttribute("aria-busy") === "false", null, { timeout: WAIT_MS });
  }

  it("switching to lexical searches again with mode=lexical, marks the query's stems exactly, and shows both scores", async () => {
    const page = await browser.newPage();
    await page.goto(worker.url.href);
    await searchFor(page, "floods farmers");
    expect(await page.inputValue("#mode")).toBe("");
    const searched = page.waitForRequest((r) => r.url().includes("/search?") && r.url().includes("mode=lexical"), { timeout: WAIT_MS });
    await page.selectOption("#mode", "lexical");
    await searched;
    await page.waitForFunction(() => (document as any).querySelectorAll("#results li.hit").length > 0, null, { timeout: WAIT_MS });
    expect(new URL(page.url()).searchParams.get("mode")).toBe("lexical");
    const marks = await page.locator("#results li.hit mark").allTextContents();
    expect(marks.length).toBeGreaterThan(0);
    // Every mark is a word whose term is one of the query's: "flooded", "farmer", "Floods"... never a loose prefix.
    const queryTerms = new Set(tokenize("floods farmers"));
    for (const m of marks) expect(queryTerms.has(tokenize(m)[0]), m).toBe(true);
    expect(await page.locator("#results li.hit .score").first().textContent()).toMatch(/cosine \d\.\d{3} · BM25 \d+\.\d{2}/);
    // The mode survives a reload (it lives in the URL).
    await page.reload();
    await page.waitForFunction(() => (document as any).querySelectorAll("#results li.hit").length > 0, null, { timeout: WAIT_MS });
    expect(await page.inputValue("#mode")).toBe("lexical");
    await page.close();
  });

  it("a stop-word query in lexical mode says why it found nothing; hybrid answers it", async () => {
    const page = await browser.newPage();
    await page.goto(`${worker.url.href}?q=${encodeURIComponent("the of and")}&k=10&mode=lexical`);
    await page.waitForSelector("#results li.empty", { timeout: WAIT_MS });
    expect(await page.locator("#results li.empty").textContent()).toMatch(/stop word/);
    // The control's first choice is the index's default, hybrid: the URL then names no mode.
    await page.selectOption("#mode", "");
    await page.waitForFunction(() => (document as any).querySelectorAll("#results li.hit").length === 10, null, { timeout: WAIT_MS });
    expect(new URL(page.url()).searchParams.get("mode")).toBeNull();
    await page.close();
  });
});
