// The search page: one self-contained document (no external assets, so it works
// offline under `wrangler dev` and costs a single request in production).
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Semantic search</title>
<style>
  :root { --bg:#f6f7f9; --card:#fff; --ink:#1b1f24; --muted:#667085; --accent:#3b5bdb; --line:#e4e7ec; }
  @media (prefers-color-scheme: dark) {
    :root { --bg:#0f1115; --card:#171a21; --ink:#e6e8ec; --muted:#98a2b3; --accent:#7c9cff; --line:#262b36; }
  }
  * { box-sizing: border-box; }
  body { margin:0; font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; background:var(--bg); color:var(--ink); }
  main { max-width:760px; margin:0 auto; padding:48px 20px 80px; }
  h1 { font-size:28px; margin:0 0 4px; letter-spacing:-.02em; }
  .sub { color:var(--muted); margin:0 0 24px; }
  form { display:flex; gap:8px; }
  input[type=search] { flex:1; font:inherit; padding:12px 14px; border:1px solid var(--line); border-radius:10px; background:var(--card); color:var(--ink); outline:none; }
  input[type=search]:focus { border-color:var(--accent); box-shadow:0 0 0 3px color-mix(in srgb,var(--accent) 25%,transparent); }
  select, button { font:inherit; padding:0 14px; border-radius:10px; border:1px solid var(--line); background:var(--card); color:var(--ink); }
  button { background:var(--accent); border-color:var(--accent); color:#fff; font-weight:600; cursor:pointer; }
  button:disabled { opacity:.6; cursor:wait; }
  #status { color:var(--muted); font-size:14px; min-height:22px; margin:14px 2px; }
  #status.err { color:#d92d20; }
  ol { list-style:none; padding:0; margin:0; display:grid; gap:10px; }
  li { background:var(--card); border:1px solid var(--line); border-radius:12px; padding:14px 16px; }
  .text { font-size:17px; }
  .row { display:flex; align-items:center; gap:12px; margin-top:8px; color:var(--muted); font-size:13px; }
  .bar { flex:0 0 90px; height:6px; border-radius:3px; background:var(--line); overflow:hidden; }
  .bar > span { display:block; height:100%; background:var(--accent); }
  .score { font-variant-numeric:tabular-nums; }
  .id { margin-left:auto; font-family:ui-monospace,monospace; font-size:12px; }
</style>
</head>
<body>
<main>
  <h1>Semantic search</h1>
  <p class="sub">Finds passages by meaning, not keywords. Queries are embedded at the edge.</p>
  <form id="f">
    <input id="q" type="search" name="q" placeholder="e.g. drought hits farmers" autocomplete="off" autofocus maxlength="1000">
    <select id="k" aria-label="results"><option>5</option><option selected>10</option><option>20</option><option>50</option></select>
    <button id="go" type="submit">Search</button>
  </form>
  <div id="status" role="status"></div>
  <ol id="results"></ol>
</main>
<script>
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"}[c]));
function fmtDate(v) {
  const m = /^(\\d{4})-?(\\d{2})-?(\\d{2})/.exec(String(v || ""));
  if (!m) return v ? esc(v) : "";
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
  return isNaN(d) ? esc(v) : d.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric", timeZone: "UTC" });
}
async function run(q, k) {
  $("go").disabled = true;
  $("status").className = "";
  $("status").textContent = "Searching…";
  try {
    const res = await fetch("/search?" + new URLSearchParams({ q, k }));
    const body = await res.json();
    if (!res.ok) throw new Error(body.error ? body.error.message + " (" + body.error.code + ")" : "HTTP " + res.status);
    const t = body.timings;
    $("status").textContent = body.results.length + " results from " + body.index.items.toLocaleString() + " items · embed " +
      t.embed_ms.toFixed(1) + " ms · search " + t.search_ms.toFixed(1) + " ms · total " + t.total_ms.toFixed(1) + " ms · index " + body.index.version;
    $("results").innerHTML = body.results.map((r) => {
      const pct = Math.max(0, Math.min(1, r.score)) * 100;
      const date = r.meta && r.meta.publish_date ? "<span>" + fmtDate(r.meta.publish_date) + "</span>" : "";
      return '<li><div class="text">' + esc(r.text) + '</div><div class="row"><div class="bar"><span style="width:' + pct.toFixed(1) +
        '%"></span></div><span class="score">' + r.score.toFixed(3) + "</span>" + date + '<span class="id">' + esc(r.id) + "</span></div></li>";
    }).join("");
  } catch (e) {
    $("status").className = "err";
    $("status").textContent = e.message;
    $("results").innerHTML = "";
  } finally {
    $("go").disabled = false;
  }
}
$("f").addEventListener("submit", (e) => {
  e.preventDefault();
  const q = $("q").value.trim();
  if (!q) return;
  history.replaceState(null, "", "?q=" + encodeURIComponent(q));
  run(q, $("k").value);
});
const initial = new URLSearchParams(location.search).get("q");
if (initial) { $("q").value = initial; run(initial, $("k").value); }
</script>
</body>
</html>
`;
