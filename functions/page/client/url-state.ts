// The page's state lives in the URL: ?q=TEXT&k=N&mode=M&filter=JSON (what GET /v1/search takes).

export interface PageState {
  q: string;
  k: number;
  /** The filter's JSON text, "" for none. */
  filter: string;
  /** semantic, lexical or hybrid; "" for the index's default. */
  mode: string;
}

export const MODES = ["hybrid", "semantic", "lexical"];

export const K_DEFAULT = 10;
const K_MAX = 100;

export function readState(): PageState {
  const p = new URLSearchParams(location.search);
  const k = Number(p.get("k"));
  return { q: (p.get("q") || "").trim(), k: Number.isInteger(k) && k >= 1 && k <= K_MAX ? k : K_DEFAULT, filter: (p.get("filter") || "").trim(), mode: MODES.includes(p.get("mode") || "") ? p.get("mode")! : "" };
}

export function urlFor(s: PageState): string {
  const p = new URLSearchParams();
  if (s.q) {
    p.set("q", s.q);
    p.set("k", String(s.k));
  }
  if (s.mode) p.set("mode", s.mode);
  if (s.filter) p.set("filter", s.filter);
  const query = String(p);
  return query ? "?" + query : location.pathname;
}
