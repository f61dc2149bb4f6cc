// The search page's script: renders the URL's state (examples for an empty query,
// else results), keeps the URL in step with the form, and wires the keyboard.
// Bundled at build time (scripts/page/) into one inline script the CSP names by hash.
import { getJson, type ApiError, type ExamplesBody, type SearchBody } from "./api.ts";
import { card, indexInfo, noResults, resultsLine, timingsLine } from "./cards.ts";
import { byId, h } from "./dom.ts";
import { FilterPanel } from "./filter-panel.ts";
import { filterFields } from "./filter-json.ts";
import { queryTerms } from "./highlight.ts";
import { readState, urlFor, type PageState } from "./url-state.ts";

const form = byId("f", HTMLFormElement);
const box = byId("q", HTMLInputElement);
const kSelect = byId("k", HTMLSelectElement);
const modeSelect = byId("mode", HTMLSelectElement);
const statusEl = byId("status", HTMLDivElement);
const errorEl = byId("error", HTMLDivElement);
const examplesEl = byId("examples", HTMLElement);
const exampleList = byId("ex-list", HTMLUListElement);
const results = byId("results", HTMLOListElement);
const info = byId("info", HTMLParagraphElement);

let inflight: AbortController | null = null;
let examplesCache: ExamplesBody | null = null;
const filters = new FilterPanel(() => navigate(formState()));

function formState(): PageState {
  return { q: box.value.trim(), k: Number(kSelect.value), filter: filters.current(), mode: modeSelect.value };
}

function navigate(s: PageState): void {
  if (urlFor(s) !== location.pathname + location.search) history.pushState(null, "", urlFor(s));
  void render(s);
}

function setK(k: number): void {
  if (![...kSelect.options].some((o) => o.value === String(k))) kSelect.append(h("option", {}, String(k)));
  kSelect.value = String(k);
}

// ---- feedback
function setStatus(text: string, loading: boolean): void {
  statusEl.replaceChildren(...(loading ? [h("span", { class: "spinner", "aria-hidden": "true" })] : []), text);
  results.setAttribute("aria-busy", loading ? "true" : "false");
}

function clearViews(): void {
  errorEl.hidden = true;
  errorEl.replaceChildren();
  examplesEl.hidden = true;
  results.replaceChildren();
  info.replaceChildren();
}

/** The error's message and code; for 503 and network errors, a Retry button. */
function showError(status: number, error: ApiError | null | undefined, retryAfter: string | null, retry: () => void): void {
  const code = error && error.code ? error.code : "http_" + status;
  const message = error && error.message ? error.message : "the server answered HTTP " + status + " without an error message";
  const parts: HTMLElement[] = [h("p", {}, h("strong", {}, message)), h("p", {}, h("code", {}, status ? status + " " + code : code))];
  if (status === 503 || status === 0) {
    const wait = retryAfter ? " The server suggests waiting " + retryAfter + " s." : "";
    parts.push(h("p", {}, (status ? "The service is temporarily unavailable." : "The request did not reach the server.") + wait));
    parts.push(h("button", { type: "button", id: "retry", onclick: retry }, "Retry"));
  }
  errorEl.replaceChildren(...parts);
  errorEl.hidden = false;
  setStatus(status === 503 ? "Unavailable" : "Error", false);
}

const retryCurrent = (): void => void render(readState());

// ---- the two views: examples (empty query) and results
async function showExamples(): Promise<void> {
  clearViews();
  document.title = "Semantic search";
  if (inflight) inflight.abort();
  const ctl = (inflight = new AbortController());
  if (!examplesCache) {
    setStatus("Loading example queries…", true);
    let r;
    try {
      r = await getJson<ExamplesBody>("/v1/examples", ctl.signal);
    } catch {
      return;
    }
    if (ctl.signal.aborted) return;
    if (!r.ok) return showError(r.status, r.body && r.body.error, r.retryAfter, retryCurrent);
    examplesCache = r.body;
  }
  setStatus("", false);
  const list = examplesCache.examples.map((q) => {
    const target = (): PageState => ({ ...formState(), q });
    return h("li", {}, h("a", { href: urlFor(target()), onclick: (e) => { e.preventDefault(); navigate(target()); } }, q));
  });
  exampleList.replaceChildren(...(list.length ? list : [h("li", { class: "none" }, "This index lists no example queries; type your own above.")]));
  examplesEl.hidden = false;
  info.replaceChildren(...indexInfo(examplesCache.index));
}

async function search(s: PageState): Promise<void> {
  // The previous results stay, dimmed (aria-busy), until the new ones arrive.
  errorEl.hidden = true;
  examplesEl.hidden = true;
  document.title = s.q + " – Semantic search";
  if (inflight) inflight.abort();
  const ctl = (inflight = new AbortController());
  setStatus("Searching…", true);
  let r;
  try {
    const params = new URLSearchParams({ q: s.q, k: String(s.k) });
    if (s.filter) params.set("filter", s.filter);
    if (s.mode) params.set("mode", s.mode);
    r = await getJson<SearchBody>("/v1/search?" + params, ctl.signal);
  } catch {
    return; // superseded by a newer request
  }
  if (ctl.signal.aborted) return;
  clearViews();
  if (!r.ok) return showError(r.status, r.body && r.body.error, r.retryAfter, retryCurrent);
  const body = r.body;
  const terms = queryTerms(s.q);
  const filtered = filterFields(s.filter);
  const matched = body.stats?.lexical ? body.stats.lexical.matched : null;
  results.replaceChildren(...(body.results.length ? body.results.map((hit) => card(hit, terms, filtered, matched)) : [noResults(body, !!s.filter, () => filters.clear())]));
  setStatus(resultsLine(body.results.length, s), false);
  info.replaceChildren(...indexInfo(body.index), ...timingsLine(body.timings));
}

function render(s: PageState): Promise<void> {
  box.value = s.q;
  setK(s.k);
  modeSelect.value = s.mode;
  filters.show(s.filter);
  filters.ensureLoaded();
  return s.q ? search(s) : showExamples();
}

// ---- wiring
form.addEventListener("submit", (e) => {
  e.preventDefault();
  filters.cancelPending();
  navigate(formState());
});
// A new mode searches again at once, like a new k.
modeSelect.addEventListener("change", () => navigate(formState()));
window.addEventListener("popstate", () => void render(readState()));
document.addEventListener("keydown", (e) => {
  if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  if (t instanceof HTMLInputElement || t instanceof HTMLSelectElement || t instanceof HTMLTextAreaElement || (t instanceof HTMLElement && t.isContentEditable)) return;
  e.preventDefault();
  box.focus();
  box.select();
});
void render(readState());
