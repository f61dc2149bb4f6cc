// The page's script, shipped inline and allowed by its hash in the CSP. It is a
// string, not a bundled function: wrangler's bundler would rewrite a function's
// body (e.g. `__name` helpers) into something the browser cannot run alone.
// Written without template literals so String.raw keeps it byte for byte.
export const PAGE_JS = String.raw`"use strict";
const $ = (id) => document.getElementById(id);
const form = $("f"), box = $("q"), kSelect = $("k"), statusEl = $("status"), errorEl = $("error");
const examplesEl = $("examples"), exampleList = $("ex-list"), results = $("results"), info = $("info");
const filtersEl = $("filters"), filterList = $("filter-list"), filterNote = $("filter-note"), clearButton = $("fclear");
const K_DEFAULT = 10, K_MAX = 100, MIN_TERM = 2, MIN_STEM = 3, MIN_PREFIX = 4;
// A select beyond this many values is too long to scan; such fields get no control.
const MAX_SELECT_VALUES = 64;
// Typing a date changes the input's value once per segment: wait for a pause before searching.
const TYPING_PAUSE_MS = 400;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const STOP = new Set("a an and are as at be by do for from has have how in is it its of on or that the this to was were what when where which who why will with".split(" "));
const WORD = /[\p{L}\p{N}']+/gu;
let inflight = null;
let examplesCache = null;
let controls = [];
let fieldsState = "unloaded";
// A filter from the URL that the controls cannot show (e.g. an $or): kept and sent as it is until a control changes.
let customFilter = "";
let typingTimer = 0;

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

// ---- state in the URL: ?q=TEXT&k=N&filter=JSON (the same JSON GET /search takes)
function readState() {
  const p = new URLSearchParams(location.search);
  const k = Number(p.get("k"));
  return { q: (p.get("q") || "").trim(), k: Number.isInteger(k) && k >= 1 && k <= K_MAX ? k : K_DEFAULT, filter: (p.get("filter") || "").trim() };
}
function urlFor(s) {
  const p = new URLSearchParams();
  if (s.q) p.set("q", s.q), p.set("k", String(s.k));
  if (s.filter) p.set("filter", s.filter);
  const query = String(p);
  return query ? "?" + query : location.pathname;
}
function formState() {
  return { q: box.value.trim(), k: Number(kSelect.value), filter: customFilter || filterFromControls() };
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
// Metadata the filter is about is marked, so each card shows why it passed.
function metaChips(meta, filtered) {
  const chips = [];
  for (const [key, value] of Object.entries(meta || {})) {
    if (value === null || value === "") continue;
    const on = filtered.has(key) ? " on" : "";
    const date = asDate(value);
    if (date) chips.push(h("time", { class: "date" + on, datetime: date.iso, title: label(key) }, date.text));
    else chips.push(h("span", { class: "chip" + on }, h("b", {}, label(key)), String(value)));
  }
  return chips;
}
function card(hit, terms, filtered) {
  const bar = h("span");
  bar.style.width = (Math.max(0, Math.min(1, hit.score)) * 100).toFixed(1) + "%";
  return h("li", { class: "hit" },
    h("p", { class: "text" }, ...highlighted(hit.text, terms)),
    h("div", { class: "meta" },
      h("span", { class: "score" }, h("span", { class: "bar", "aria-hidden": "true" }, bar), h("span", {}, "score " + hit.score.toFixed(3))),
      ...metaChips(hit.meta, filtered),
      h("span", { class: "id" }, "id " + hit.id)));
}
function timingsLine(t) {
  return [
    h("br"),
    h("span", { class: "local" }, "local measurement"),
    " Worker timings: embed " + t.embed_ms.toFixed(1) + " ms · search " + t.search_ms.toFixed(1) + " ms · total " + t.total_ms.toFixed(1) + " ms",
  ];
}
function noResults(body, filtered) {
  if (filtered) {
    return h("li", { class: "empty" }, h("strong", {}, "No items match this filter. "),
      "The index holds no item whose metadata passes it. Widen the range or choose “any”, or ",
      h("button", { type: "button", class: "link", onclick: clearFilters }, "clear the filters"), ".");
  }
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
  const list = examplesCache.examples.map((q) => {
    const target = () => ({ ...formState(), q });
    return h("li", {}, h("a", { href: urlFor(target()), onclick: (e) => { e.preventDefault(); navigate(target()); } }, q));
  });
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
    const params = new URLSearchParams({ q: s.q, k: String(s.k) });
  if (s.filter) params.set("filter", s.filter);
  r = await getJson("/search?" + params, ctl.signal);
  } catch {
    return; // superseded by a newer request
  }
  if (ctl.signal.aborted) return;
  clearViews();
  if (!r.ok) return showError(r.status, r.body && r.body.error, r.retryAfter, () => render(readState()));
  const body = r.body;
  const terms = queryTerms(s.q);
  const filtered = filterFields(s.filter);
  results.replaceChildren(...(body.results.length ? body.results.map((hit) => card(hit, terms, filtered)) : [noResults(body, !!s.filter)]));
  setStatus(resultsLine(body.results.length, s), false);
  info.replaceChildren(...indexInfo(body.index), ...timingsLine(body.timings));
}
function resultsLine(n, s) {
  const base = n + " result" + (n === 1 ? "" : "s") + " for “" + s.q + "”";
  if (!s.filter) return base;
  if (n === 0) return "No items match this filter";
  // The search returns every matching item when fewer than k match.
  return n < s.k ? base + ": all the items that match the filter" : base + " that match the filter";
}
function render(s) {
  box.value = s.q;
  setK(s.k);
  showFilter(s.filter);
  if (fieldsState === "unloaded") loadFields();
  return s.q ? search(s) : showExamples();
}

// ---- filters: controls built from GET /fields, read into and written from the filter JSON
function parseFilter(text) {
  try {
    const f = JSON.parse(text);
    return f && typeof f === "object" && !Array.isArray(f) ? f : null;
  } catch {
    return null;
  }
}
/** The field names a filter is about, $or branches included. */
function filterFields(text) {
  const names = new Set();
  const walk = (f) => {
    for (const [key, value] of Object.entries(f || {})) {
      if (key === "$or" && Array.isArray(value)) value.forEach(walk);
      else names.add(key);
    }
  };
  if (text) walk(parseFilter(text));
  return names;
}
function isPlain(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}
/** A from/to pair: read gives {$gte,$lte} (the "to" is inclusive); write takes $eq, $gte and $lte. */
function rangeControl(field, i, type, toValue, fromValue) {
  const name = label(field.name);
  const id = "ff-" + i;
  const bound = { type, class: "fin" };
  if (field.min !== null) bound.min = fromValue(field.min);
  if (field.max !== null) bound.max = fromValue(field.max);
  if (type === "number") bound.step = "any";
  const from = h("input", { ...bound, id: id + "-from" });
  const to = h("input", { ...bound, id: id + "-to" });
  for (const input of [from, to]) input.addEventListener("change", () => filterChanged(TYPING_PAUSE_MS));
  const element = h("div", { class: "fgroup", role: "group", "aria-labelledby": id + "-l" },
    h("span", { class: "flabel", id: id + "-l" }, name),
    h("label", { for: id + "-from", class: "fsub" }, h("span", { class: "vh" }, name + " "), "from"), from,
    h("label", { for: id + "-to", class: "fsub" }, h("span", { class: "vh" }, name + " "), "to"), to);
  return {
    name: field.name,
    element,
    read() {
      const c = {};
      if (from.value !== "") c.$gte = toValue(from.value);
      if (to.value !== "") c.$lte = toValue(to.value);
      return Object.keys(c).length ? c : undefined;
    },
    write(c) {
      if (c === undefined) return (from.value = to.value = ""), true;
      const ops = isPlain(c) ? c : { $eq: c };
      const keys = Object.keys(ops);
      if (keys.length === 0 || keys.some((op) => op !== "$eq" && op !== "$gte" && op !== "$lte") || (ops.$eq !== undefined && keys.length > 1)) return false;
      const lo = ops.$eq !== undefined ? ops.$eq : ops.$gte, hi = ops.$eq !== undefined ? ops.$eq : ops.$lte;
      const shown = [lo, hi].map((v) => (v === undefined ? "" : fromValue(v)));
      if (shown.some((v) => v === null)) return false;
      from.value = shown[0];
      to.value = shown[1];
      return from.value === shown[0] && to.value === shown[1];
    },
  };
}
function isoDate(v) {
  const d = asDate(v);
  return d ? d.iso : null;
}
function numberText(v) {
  return typeof v === "number" && isFinite(v) ? String(v) : null;
}
/** A select of the field's values with "any" first; read gives the value ($eq shorthand). */
function selectControl(field, i) {
  const id = "ff-" + i;
  const select = h("select", { id, class: "fsel" }, h("option", { value: "" }, "any"), ...field.values.map((v) => h("option", { value: v }, v)));
  select.addEventListener("change", () => filterChanged(0));
  return {
    name: field.name,
    element: h("div", { class: "fgroup" }, h("label", { for: id, class: "flabel" }, label(field.name)), select),
    read() {
      return select.value === "" ? undefined : select.value;
    },
    write(c) {
      const v = isPlain(c) && Object.keys(c).length === 1 && "$eq" in c ? c.$eq : c;
      if (v === undefined) return (select.value = ""), true;
      if (typeof v !== "string" || !field.values.includes(v)) return false;
      select.value = v;
      return true;
    },
  };
}
function controlFor(field, i) {
  if (field.type === "date") return rangeControl(field, i, "date", (v) => v, isoDate);
  if (field.type === "number") return rangeControl(field, i, "number", Number, numberText);
  if (field.type === "string" && Array.isArray(field.values) && field.values.length > 0 && field.values.length <= MAX_SELECT_VALUES) return selectControl(field, i);
  return null;
}
async function loadFields() {
  fieldsState = "loading";
  let r;
  try {
    r = await getJson("/fields");
  } catch {
    r = { ok: false };
  }
  // No fields (or no answer yet: a later render asks again) means no controls; the search itself reports errors.
  if (!r.ok || !Array.isArray(r.body.fields)) return void (fieldsState = "unloaded");
  controls = r.body.fields.map(controlFor).filter((c) => c !== null);
  filterList.replaceChildren(...controls.map((c) => c.element));
  fieldsState = "loaded";
  showFilter(readState().filter);
}
function filterFromControls() {
  const f = {};
  for (const c of controls) {
    const v = c.read();
    if (v !== undefined) f[c.name] = v;
  }
  return Object.keys(f).length ? JSON.stringify(f) : "";
}
/** Sets the controls from the URL's filter; one they cannot show is kept as it is and named. */
function showFilter(text) {
  clearButton.hidden = !text;
  if (fieldsState !== "loaded") {
    // Until the controls exist the URL's filter is kept as it is.
    customFilter = text;
    return;
  }
  const f = text ? parseFilter(text) : {};
  const byName = new Map(controls.map((c) => [c.name, c]));
  const fits = f !== null && Object.keys(f).every((name) => byName.has(name));
  let shown = fits;
  for (const c of controls) shown = c.write(fits ? f[c.name] : undefined) && shown;
  if (!shown) for (const c of controls) c.write(undefined);
  customFilter = shown ? "" : text;
  filterNote.hidden = shown;
  filterNote.replaceChildren(...(shown ? [] : ["Filter from the link, which these controls cannot show: ", h("code", {}, text)]));
  filtersEl.hidden = controls.length === 0 && shown;
}
function filterChanged(delay) {
  clearTimeout(typingTimer);
  customFilter = "";
  typingTimer = setTimeout(() => navigate(formState()), delay);
}
function clearFilters() {
  clearTimeout(typingTimer);
  for (const c of controls) c.write(undefined);
  customFilter = "";
  navigate(formState());
}

// ---- wiring
form.addEventListener("submit", (e) => {
  e.preventDefault();
  clearTimeout(typingTimer);
  navigate(formState());
});
clearButton.addEventListener("click", clearFilters);
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
