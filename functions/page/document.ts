// The page's HTML: one self-contained document (no external assets, fonts or
// scripts), so it works offline under `wrangler dev` and costs one request.
// The form is a plain GET form: without the script it still loads `/?q=…&k=…`.
// The filter controls are built by the script from `GET /fields` (none without it).
// The script is functions/page/client/, bundled at build time (scripts/page/).
import { PAGE_JS } from "./generated/assets.js";
import { PAGE_CSS } from "./style.ts";

export const K_CHOICES = [5, 10, 20, 50];
const K_DEFAULT = 10;

const kOptions = K_CHOICES.map((k) => `<option${k === K_DEFAULT ? " selected" : ""}>${k}</option>`).join("");

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Semantic search</title>
<link rel="icon" href="data:,">
<style>${PAGE_CSS}</style>
</head>
<body>
<main>
  <h1>Semantic search</h1>
  <p class="sub">Finds items by meaning, not keywords. Queries are embedded at the edge.</p>
  <form id="f" role="search" action="/" method="get">
    <label for="q" class="vh">Search query</label>
    <input id="q" type="search" name="q" placeholder="Search by meaning…" autocomplete="off" maxlength="1000" enterkeyhint="search">
    <label class="k" for="k">Results</label>
    <select id="k" name="k">${kOptions}</select>
    <label class="k" for="mode">Mode</label>
    <select id="mode" name="mode" title="hybrid: meaning and keywords fused; semantic: meaning only; lexical: keywords (BM25) only"><option value="">hybrid (default)</option><option value="semantic">semantic</option><option value="lexical">lexical</option></select>
    <button id="go" class="primary" type="submit">Search</button>
  </form>
  <fieldset id="filters" hidden>
    <legend class="vh">Filter by metadata</legend>
    <div id="filter-list"></div>
    <button id="fclear" type="button" class="link" hidden>Clear filters</button>
    <p id="filter-note" hidden></p>
  </fieldset>
  <p class="hint">Press <kbd>/</kbd> to jump to the search box and <kbd>Enter</kbd> to search.</p>
  <div id="status" role="status"></div>
  <p id="info"></p>
  <div id="error" role="alert" hidden></div>
  <section id="examples" aria-labelledby="ex-h" hidden>
    <h2 id="ex-h">Example queries from this index</h2>
    <ul id="ex-list"></ul>
  </section>
  <ol id="results" aria-label="Results" aria-live="polite" aria-busy="false"></ol>
</main>
<footer>
  <p>Timings marked <span class="local">local measurement</span> are the Worker's own clock. They mean something when the Worker runs locally
  (<code>npm start</code>); in production Workers' timers do not advance during computation and read 0.
  API: <code>GET /v1/search?q=…&amp;k=…&amp;filter=…</code>, <code>GET /v1/fields</code>, <code>GET /v1/examples</code>, <code>GET /v1/healthz</code>; the contract: <code>GET /v1/openapi.json</code>.</p>
</footer>
<script>${PAGE_JS}</script>
</body>
</html>
`;
