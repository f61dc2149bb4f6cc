// The page's stylesheet. Inline and hashed in the CSP (functions/page/csp.ts);
// nothing here loads from elsewhere: system fonts, no images.
export const PAGE_CSS = `
:root { --bg:#f6f7f9; --card:#fff; --ink:#1b1f24; --muted:#5d6675; --accent:#3451c7; --line:#dfe3ea; --chip:#eef1f6; --mark:#ffe58a; --err:#b42318; --errbg:#fef3f2; }
@media (prefers-color-scheme: dark) {
  :root { --bg:#0f1115; --card:#171a21; --ink:#e6e8ec; --muted:#a3acba; --accent:#8ea6ff; --line:#2a303c; --chip:#222834; --mark:#6b5a12; --err:#ff8a80; --errbg:#2a1614; }
}
* { box-sizing:border-box; }
body { margin:0; font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; background:var(--bg); color:var(--ink); }
main, footer { max-width:780px; margin:0 auto; padding:0 20px; }
main { padding-top:40px; padding-bottom:24px; }
h1 { font-size:28px; margin:0 0 4px; letter-spacing:-.02em; }
h2 { font-size:15px; margin:0 0 8px; color:var(--muted); font-weight:600; }
.sub { color:var(--muted); margin:0 0 20px; }
.vh { position:absolute; width:1px; height:1px; overflow:hidden; clip:rect(0 0 0 0); white-space:nowrap; }
form { display:flex; gap:8px; align-items:stretch; }
input[type=search] { flex:1 1 auto; min-width:0; font:inherit; padding:11px 14px; border:1px solid var(--line); border-radius:10px; background:var(--card); color:var(--ink); }
.k { display:flex; align-items:center; gap:6px; color:var(--muted); font-size:14px; }
select, button { font:inherit; padding:0 12px; min-height:44px; border-radius:10px; border:1px solid var(--line); background:var(--card); color:var(--ink); }
button { cursor:pointer; }
button.primary { background:var(--accent); border-color:var(--accent); color:#fff; font-weight:600; padding:0 18px; }
@media (prefers-color-scheme: dark) { button.primary { color:#0f1115; } }
:focus-visible { outline:3px solid var(--accent); outline-offset:2px; }
input[type=search]:focus-visible { outline-offset:0; }
#filters { border:0; padding:0; margin:10px 0 0; min-width:0; display:flex; flex-wrap:wrap; align-items:center; gap:8px 18px; }
#filters[hidden] { display:none; }
#filter-list { display:contents; }
.fgroup { display:flex; flex-wrap:wrap; align-items:center; gap:6px; }
.flabel { color:var(--ink); font-size:14px; font-weight:600; }
.fsub { color:var(--muted); font-size:14px; }
input.fin { font:inherit; font-size:15px; padding:0 10px; min-height:40px; border-radius:10px; border:1px solid var(--line); background:var(--card); color:var(--ink); }
input.fin[type=number] { width:7.5em; }
select.fsel { min-height:40px; font-size:15px; }
@media (prefers-color-scheme: dark) { input.fin { color-scheme:dark; } }
button.link { min-height:0; padding:0; border:0; background:none; color:var(--accent); font-size:14px; text-decoration:underline; }
#filter-note { flex-basis:100%; margin:0; color:var(--muted); font-size:13px; overflow-wrap:anywhere; }
.meta .on { box-shadow:inset 0 0 0 1px var(--accent); border-radius:6px; }
.meta time.on { padding:0 6px; color:var(--ink); }
.hint { color:var(--muted); font-size:13px; margin:8px 2px 0; }
kbd { font:12px ui-monospace,monospace; border:1px solid var(--line); border-bottom-width:2px; border-radius:4px; padding:0 4px; background:var(--card); }
#status { color:var(--muted); font-size:14px; min-height:22px; margin:16px 2px 0; display:flex; align-items:center; gap:8px; }
.spinner { width:14px; height:14px; border:2px solid var(--line); border-top-color:var(--accent); border-radius:50%; animation:spin .8s linear infinite; }
@keyframes spin { to { transform:rotate(360deg); } }
@media (prefers-reduced-motion: reduce) { .spinner { animation:none; } }
#error { border:1px solid var(--err); background:var(--errbg); color:var(--err); border-radius:12px; padding:12px 16px; margin:0 0 12px; }
#error p { margin:0 0 4px; }
#error code { font-size:13px; }
#error button { margin-top:8px; border-color:var(--err); color:var(--err); background:transparent; font-weight:600; }
#examples ul { list-style:none; padding:0; margin:0; display:flex; flex-wrap:wrap; gap:8px; }
#examples a { display:inline-block; padding:8px 12px; border:1px solid var(--line); background:var(--card); border-radius:18px; color:var(--ink); text-decoration:none; font-size:15px; }
#examples a:hover { border-color:var(--accent); }
#examples .none { color:var(--muted); }
ol#results { list-style:none; padding:0; margin:0; display:grid; gap:10px; }
ol#results[aria-busy=true] { opacity:.5; }
.hit { background:var(--card); border:1px solid var(--line); border-radius:12px; padding:14px 16px; }
.text { font-size:17px; margin:0; overflow-wrap:anywhere; }
mark { background:var(--mark); color:inherit; border-radius:3px; padding:0 1px; }
.meta { display:flex; flex-wrap:wrap; align-items:center; gap:6px; margin-top:8px; font-size:13px; color:var(--muted); }
.chip { display:inline-flex; gap:4px; background:var(--chip); border-radius:6px; padding:1px 8px; color:var(--ink); overflow-wrap:anywhere; }
.chip b { font-weight:500; color:var(--muted); }
.score { display:flex; align-items:center; gap:8px; font-variant-numeric:tabular-nums; }
.bar { width:80px; height:6px; border-radius:3px; background:var(--line); overflow:hidden; }
.bar > span { display:block; height:100%; background:var(--accent); }
.id { margin-left:auto; font:12px ui-monospace,monospace; }
.empty { background:var(--card); border:1px dashed var(--line); border-radius:12px; padding:14px 16px; }
#info { color:var(--muted); font-size:13px; margin:2px 2px 12px; overflow-wrap:anywhere; }
#info:empty { margin:0 0 10px; }
#info code { font-size:12px; }
.local { border:1px solid var(--line); border-radius:4px; padding:0 4px; font-size:11px; text-transform:uppercase; letter-spacing:.04em; }
footer { color:var(--muted); font-size:12px; padding-bottom:40px; }
/* Touch screens have no / key to press. */
@media (hover: none) { .hint { display:none; } }
@media (max-width: 520px) {
  main { padding-top:20px; }
  main, footer { padding-left:12px; padding-right:12px; }
  h1 { font-size:23px; }
  form { flex-wrap:wrap; }
  input[type=search] { flex-basis:100%; }
  button.primary { flex:1; }
  .text { font-size:16px; }
  .id { margin-left:0; }
  /* One control a row: the field's name, then "from" and "to" each beside its input. */
  #filters { flex-direction:column; align-items:stretch; gap:10px; }
  .fgroup { display:grid; grid-template-columns:auto minmax(0, 1fr); gap:6px 10px; }
  span.flabel { grid-column:1 / -1; }
  input.fin, select.fsel { width:100%; min-width:0; }
  #fclear { align-self:flex-start; }
}
`;
