// A result card (text with the query's words marked, score bar, metadata chips,
// id), the empty answer and the index line under the form.
import type { Hit, IndexInfo, SearchBody } from "./api.ts";
import { h } from "./dom.ts";
import { highlighted, markedTerms } from "./highlight.ts";
import { asDate, label } from "./meta-values.ts";

export function indexInfo(index: IndexInfo): Array<string | HTMLElement> {
  return ["index ", h("code", {}, index.version), " · " + index.items.toLocaleString("en-US") + " items"];
}

// Metadata the filter is about is marked, so each card shows why it passed.
function metaChips(meta: Hit["meta"], filtered: Set<string>): HTMLElement[] {
  const chips: HTMLElement[] = [];
  for (const [key, value] of Object.entries(meta || {})) {
    if (value === null || value === "") continue;
    const on = filtered.has(key) ? " on" : "";
    const date = asDate(value);
    if (date) chips.push(h("time", { class: "date" + on, datetime: date.iso, title: label(key) }, date.text));
    else chips.push(h("span", { class: "chip" + on }, h("b", {}, label(key)), String(value)));
  }
  return chips;
}

/** "cosine 0.812 · BM25 7.10": the two scores a lexical or hybrid hit ranked by. */
function scoresLine(hit: Hit): string {
  const s = hit.scores;
  if (!s || s.lexical === null) return "";
  return " · cosine " + s.semantic.toFixed(3) + " · BM25 " + s.lexical.toFixed(2);
}

/** `matched`: the query's terms the lexical search matched, marked exactly; null (semantic mode): the query's words, loosely. */
export function card(hit: Hit, terms: string[], filtered: Set<string>, matched: string[] | null = null): HTMLLIElement {
  const bar = h("span");
  bar.style.width = (Math.max(0, Math.min(1, hit.score)) * 100).toFixed(1) + "%";
  return h("li", { class: "hit" },
    h("p", { class: "text" }, ...(matched ? markedTerms(hit.text, matched) : highlighted(hit.text, terms))),
    h("div", { class: "meta" },
      h("span", { class: "score" }, h("span", { class: "bar", "aria-hidden": "true" }, bar), h("span", {}, "score " + hit.score.toFixed(3) + scoresLine(hit))),
      ...metaChips(hit.meta, filtered),
      h("span", { class: "id" }, "id " + hit.id)));
}

export function timingsLine(t: SearchBody["timings"]): Array<string | HTMLElement> {
  return [
    h("br"),
    h("span", { class: "local" }, "local measurement"),
    " Worker timings: embed " + t.embed_ms.toFixed(1) + " ms · search " + t.search_ms.toFixed(1) + " ms · total " + t.total_ms.toFixed(1) + " ms",
  ];
}

/** The one item of an empty answer, saying why; with a filter, a button that clears it. */
export function noResults(body: SearchBody, filtered: boolean, clearFilters: () => void): HTMLLIElement {
  if (filtered) {
    return h("li", { class: "empty" }, h("strong", {}, "No items match this filter. "),
      "The index holds no item whose metadata passes it. Widen the range or choose “any”, or ",
      h("button", { type: "button", class: "link", onclick: clearFilters }, "clear the filters"), ".");
  }
  if (body.reason) return h("li", { class: "empty" }, h("strong", {}, "No keyword matches. "), "Keyword search found nothing: " + body.reason + ". Try the hybrid or semantic mode.");
  const why = body.index.items === 0
    ? "The index has no items: this version (" + body.index.version + ") names a model but holds nothing to search. Build and publish a corpus first."
    : "The index answered with no items for this query. A semantic index returns the nearest items to any query, so an empty answer means it holds nothing it could return.";
  return h("li", { class: "empty" }, h("strong", {}, "No results. "), why);
}

/** The status line after a search. */
export function resultsLine(n: number, s: { q: string; k: number; filter: string }): string {
  const base = n + " result" + (n === 1 ? "" : "s") + " for “" + s.q + "”";
  if (!s.filter) return base;
  if (n === 0) return "No items match this filter";
  // The search returns every matching item when fewer than k match.
  return n < s.k ? base + ": all the items that match the filter" : base + " that match the filter";
}
