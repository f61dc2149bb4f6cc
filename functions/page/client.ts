// The page's script, shipped inline and allowed by its hash in the CSP. It is a
// string, not a bundled function: wrangler's bundler would rewrite a function's
// body (e.g. `__name` helpers) into something the browser cannot run alone.
// Written without template literals so String.raw keeps it byte for byte.
export const PAGE_JS = String.raw`"use strict";
const $ = (id) => document.getElementById(id);
const form = $("f"), box = $("q"), kSelect = $("k"), statusEl = $("status"), errorEl = $("error");
const examplesEl = $("examples"), exampleList = $("ex-list"), results = $("results"), info = $("info");
const K_DEFAULT = 10, K_MAX = 100, MIN_TERM = 2, MIN_STEM = 3, MIN_PREFIX = 4;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const STOP = new Set("a an and are as at be by do for from has have how in is it its of on or that the this to was were what when where which who why will with".split(" "));
const WORD = /[\p{L}\p{N}']+/gu;
let inflight = null;
let examplesCache = null;

function h(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  e.append(...children.filter((c) => c !== null && c !== undefined));
  return e;
}

// ---- state in the URL: ?q=TEXT&k=N
function readState() {
  const p = new URLSearchParams(location.search);
  const k = Number(p.get("k"));
  return { q: (p.get("q") || "").trim(), k: Number.isInteger(k) && k >= 1 && k <= K_MAX ? k : K_DEFAULT };
}
function urlFor(s) {
  return s.q ? "?" + new URLSearchParams({ q: s.q, k: String(s.k) }) : location.pathname;
}
function navigate(s) {
  if (urlFor(s) !== location.pathname + location.search) history.pushState(null, "", urlFor(s));
  render(s);
}
function setK(k) {
  if (![...kSelect.options].some((o) => o.value === String(k))) kSelect.append(h("option", {}, String(k)));
  kSelect.value = String(k);
}

// ---- feedback
function setStatus(text, loading) {
  statusEl.replaceChildren(...(loading ? [h("span", { class: "spinner", "aria-hidden": "true" })] : []), text);
  results.setAttribute("aria-busy", loading ? "true" : "false");
}
function clearViews() {
  errorEl.hidden = true;
  errorEl.replaceChildren();
  examplesEl.hidden = true;
  results.replaceChildren();
  info.replaceChildren();
}
function showError(status, error, retryAfter, retry) {
  const code = error && error.code ? error.code : "http_" + status;
  const message = error && error.message ? error.message : "the server answered HTTP " + status + " without an error message";
  const parts = [h("p", {}, h("strong", {}, message)), h("p", {}, h("code", {}, status ? status + " " + code : code))];
  if (status === 503 || status === 0) {
    const wait = retryAfter ? " The server suggests waiting " + retryAfter + " s." : "";
    parts.push(h("p", {}, (status ? "The service is temporarily unavailable." : "The request did not reach the server.") + wait));
    parts.push(h("button", { type: "button", id: "retry", onclick: retry }, "Retry"));
  }
  errorEl.replaceChildren(...parts);
  errorEl.hidden = false;
  setStatus(status === 503 ? "Unavailable" : "Error", false);
}
async function getJson(url, signal) {
  let res;
  try {
    res = await fetch(url, { signal, headers: { Accept: "application/json" } });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    return { status: 0, body: { error: { code: "network_error", message: "Network error: " + e.message } }, retryAfter: null };
  }
  let body = null;
  try {
    body = await res.json();
  } catch (e) {
    if (e.name === "AbortError") throw e;
  }
  return { status: res.status, ok: res.ok && body !== null, body, retryAfter: res.headers.get("Retry-After") };
}
function indexInfo(index) {
  return ["index ", h("code", {}, index.version), " · " + index.items.toLocaleString("en-US") + " items"];
}

// ---- result cards
function queryTerms(q) {
  return [...new Set((q.toLowerCase().match(WORD) || []).filter((w) => w.length >= MIN_TERM && !STOP.has(w)))];
}
// A rough stem, so "terrorism" marks "terrorists" and "farmers" marks "farm".
function stem(w) {
  const s = w.replace(/(?:ists?|isms?|ings?|ers?|ed|es|s|ly)$/, "");
  return s.length >= MIN_STEM ? s : w;
}
function matchesTerm(word, terms) {
  const w = word.toLowerCase();
  return terms.some((t) => w === t || stem(w) === stem(t) || (t.length >= MIN_PREFIX && w.startsWith(t)) || (w.length >= MIN_PREFIX && t.startsWith(w)));
}
function highlighted(text, terms) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(WORD)) {
    if (!matchesTerm(m[0], terms)) continue;
    out.push(text.slice(last, m.index), h("mark", {}, m[0]));
    last = m.index + m[0].length;
  }
  out.push(text.slice(last));
  return out;
}
function asDate(value) {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})(?:$|[T ])/.exec(String(value));
  if (!m) return null;
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
  if (isNaN(d) || d.getUTCMonth() !== +m[2] - 1 || d.getUTCDate() !== +m[3]) return null;
  return { iso: m[1] + "-" + m[2] + "-" + m[3], text: d.getUTCDate() + " " + MONTHS[d.getUTCMonth()] + " " + d.getUTCFullYear() };
}
function label(key) {
  return key.replace(/_/g, " ");
}
function metaChips(meta) {
  const chips = [];
  for (const [key, value] of Object.entries(meta || {})) {
    if (value === null || value === "") continue;
    const date = asDate(value);
    if (date) chips.push(h("time", { class: "date", datetime: date.iso, title: label(key) }, date.text));
    else chips.push(h("span", { class: "chip" }, h("b", {}, label(key)), String(value)));
  }
  return chips;
}
function card(hit, terms) {
  const bar = h("span");
  bar.style.width = (Math.max(0, Math.min(1, hit.score)) * 100).toFixed(1) + "%";
  return h("li", { class: "hit" },
    h("p", { class: "text" }, ...highlighted(hit.text, terms)),
    h("div", { class: "meta" },
      h("span", { class: "score" }, h("span", { class: "bar", "aria-hidden": "true" }, bar), h("span", {}, "score " + hit.score.toFixed(3))),
      ...metaChips(hit.meta),
      h("span", { class: "id" }, "id " + hit.id)));
}
function timingsLine(t) {
  return [
    h("br"),
    h("span", { class: "local" }, "local measurement"),
    " Worker timings: embed " + t.embed_ms.toFixed(1) + " ms · search " + t.search_ms.toFixed(1) + " ms · total " + t.total_ms.toFixed(1) + " ms",
  ];
}
function noResults(body) {
  const why = body.index.items === 0
    ? "The index has no items: this version (" + body.index.version + ") names a model but holds nothing to search. Build and publish a corpus first."
    : "The index answered with no items for this query. A semantic index returns the nearest items to any query, so an empty answer means it holds nothing it could return.";
  return h("li", { class: "empty" }, h("strong", {}, "No results. "), why);
}

// ---- the two views: examples (empty query) and results
async function showExamples() {
  clearViews();
  document.title = "Semantic search";
  if (inflight) inflight.abort();
  const ctl = (inflight = new AbortController());
  if (!examplesCache) {
    setStatus("Loading example queries…", true);
    let r;
    try {
      r = await getJson("/examples", ctl.signal);
    } catch {
      return;
    }
    if (ctl.signal.aborted) return;
    if (!r.ok) return showError(r.status, r.body && r.body.error, r.retryAfter, () => render(readState()));
    examplesCache = r.body;
  }
  setStatus("", false);
  const list = examplesCache.examples.map((q) =>
    h("li", {}, h("a", { href: urlFor({ q, k: Number(kSelect.value) }), onclick: (e) => { e.preventDefault(); navigate({ q, k: Number(kSelect.value) }); } }, q)));
  exampleList.replaceChildren(...(list.length ? list : [h("li", { class: "none" }, "This index lists no example queries; type your own above.")]));
  examplesEl.hidden = false;
  info.replaceChildren(...indexInfo(examplesCache.index));
}
async function search(s) {
  // The previous results stay, dimmed (aria-busy), until the new ones arrive.
  errorEl.hidden = true;
  examplesEl.hidden = true;
  document.title = s.q + " – Semantic search";
  if (inflight) inflight.abort();
  const ctl = (inflight = new AbortController());
  setStatus("Searching…", true);
  let r;
  try {
    r = await getJson("/search?" + new URLSearchParams({ q: s.q, k: String(s.k) }), ctl.signal);
  } catch {
    return; // superseded by a newer request
  }
  if (ctl.signal.aborted) return;
  clearViews();
  if (!r.ok) return showError(r.status, r.body && r.body.error, r.retryAfter, () => render(readState()));
  const body = r.body;
  const terms = queryTerms(s.q);
  results.replaceChildren(...(body.results.length ? body.results.map((hit) => card(hit, terms)) : [noResults(body)]));
  setStatus(body.results.length + " result" + (body.results.length === 1 ? "" : "s") + " for “" + s.q + "”", false);
  info.replaceChildren(...indexInfo(body.index), ...timingsLine(body.timings));
}
function render(s) {
  box.value = s.q;
  setK(s.k);
  return s.q ? search(s) : showExamples();
}

// ---- wiring
form.addEventListener("submit", (e) => {
  e.preventDefault();
  navigate({ q: box.value.trim(), k: Number(kSelect.value) });
});
window.addEventListener("popstate", () => render(readState()));
document.addEventListener("keydown", (e) => {
  if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  if (t instanceof HTMLInputElement || t instanceof HTMLSelectElement || t instanceof HTMLTextAreaElement || (t && t.isContentEditable)) return;
  e.preventDefault();
  box.focus();
  box.select();
});
render(readState());
`;
