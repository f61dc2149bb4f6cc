// The page's CSP names its inline script and style by hashes computed when the
// page is built (scripts/page/assets.ts), not at run time: here, those hashes
// against the exact bytes the Worker serves, and the served script against a
// fresh bundle of functions/page/client/ (a stale generated file fails).
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { PAGE_CSP } from "../functions/page/csp.ts";
import { PAGE_HTML } from "../functions/page/document.ts";
import { PAGE_CSS } from "../functions/page/style.ts";
import { bundlePageScript, cspHash } from "../scripts/page/assets.ts";
import { suiteWorker } from "./helpers/workerd-fixture.ts";

/** The one inline element of this tag: the exact text between its tags. */
function inline(html: string, tag: "script" | "style"): string {
  const all = [...html.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, "g"))];
  expect(all.length, `inline <${tag}> elements`).toBe(1);
  return all[0]![1]!;
}

/** base64 SHA-256 computed here, apart from the code under test. */
const sha256 = (text: string) => createHash("sha256").update(Buffer.from(text, "utf8")).digest("base64");

function cspSources(csp: string): { script: string; style: string } {
  const script = /(?:^|; )script-src 'sha256-([A-Za-z0-9+/]{43}=)'(?:;|$)/.exec(csp);
  const style = /(?:^|; )style-src 'sha256-([A-Za-z0-9+/]{43}=)'(?:;|$)/.exec(csp);
  expect(script, csp).not.toBeNull();
  expect(style, csp).not.toBeNull();
  return { script: script![1]!, style: style![1]! };
}

describe("page CSP hashes", () => {
  const w = suiteWorker();

  it("names the sha256 of the exact inline script and style the Worker serves", async () => {
    const res = await w.fetch("/");
    expect(res.status).toBe(200);
    const html = new TextDecoder().decode(await res.arrayBuffer());
    const csp = res.headers.get("content-security-policy")!;
    const hashes = cspSources(csp);
    const script = inline(html, "script");
    const style = inline(html, "style");
    expect(script.length).toBeGreaterThan(1000);
    expect(hashes.script).toBe(sha256(script));
    expect(hashes.style).toBe(sha256(style));
    expect(style).toBe(PAGE_CSS);
    // The Node import of functions/page/* is the same page and policy.
    expect(html).toBe(PAGE_HTML);
    expect(csp).toBe(PAGE_CSP);
  });

  it("serves the current functions/page/client/ bundled as one strict IIFE, without bundler helpers", async () => {
    const script = inline(await (await w.fetch("/")).text(), "script");
    expect(script).toBe(await bundlePageScript());
    expect(script.startsWith('"use strict";(()=>{')).toBe(true);
    expect(script).not.toMatch(/\b__name\b|\bimport\b\s*[{*"]|\bexport\b\s*[{*]|\brequire\(/);
    expect(cspHash(script)).toBe(sha256(script));
  });
});
