// The recall-vs-bytes figure: an SVG written here, rendered to PNG by resvg
// (@resvg/resvg-js, prebuilt, no browser). Log-scale bytes per query on x,
// recall@10 on y, one line per series.
import { Resvg } from "@resvg/resvg-js";

export interface Series {
  name: string;
  color: string;
  points: Array<{ x: number; y: number; label?: string }>;
  dashed?: boolean;
  /** Highlighted points (e.g. the default operating point). */
  marks?: Array<{ x: number; y: number; label: string }>;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function fmtBytes(b: number): string {
  const k = b / 1024;
  if (k >= 1000) return `${+(k / 1024).toFixed(1)} MB`;
  if (k >= 1) return `${+k.toFixed(0)} KB`;
  return `${+k.toFixed(1)} KB`;
}

/** The plot's frame: pixel size, margins, and the data → pixel maps (log bytes, linear recall). */
interface Frame {
  W: number;
  H: number;
  m: { l: number; r: number; t: number; b: number };
  lx0: number;
  lx1: number;
  y0: number;
  y1: number;
  X(x: number): number;
  Y(y: number): number;
}

function frameFor(series: Series[], o: { target?: number; width?: number; height?: number }): Frame {
  const W = o.width ?? 1000;
  const H = o.height ?? 640;
  const m = { l: 70, r: 290, t: 64, b: 56 };
  const all = series.flatMap((s) => s.points);
  const xs = all.map((p) => p.x).filter((x) => x > 0);
  const ys = all.map((p) => p.y);
  // Decades of KB (1024 B), so tick labels come out round.
  const lx0 = Math.floor(Math.log10(Math.min(...xs) / 1024));
  const lx1 = Math.ceil(Math.log10(Math.max(...xs) / 1024));
  const y0 = Math.max(0, Math.floor(Math.min(...ys, o.target ?? 1) * 10) / 10);
  const y1 = 1;
  const X = (x: number) => m.l + ((Math.log10(x / 1024) - lx0) / (lx1 - lx0)) * (W - m.l - m.r);
  const Y = (y: number) => m.t + ((y1 - y) / (y1 - y0)) * (H - m.t - m.b);
  return { W, H, m, lx0, lx1, y0, y1, X, Y };
}

/** Grid lines and tick labels on both axes, the plot's border and the target line. */
function gridSvg(f: Frame, target: number | undefined): string[] {
  const { W, H, m, X, Y } = f;
  const out: string[] = [];
  for (let e = f.lx0; e <= f.lx1; e++) {
    for (const k of [1, 2, 5]) {
      const x = k * 10 ** e * 1024;
      if (Math.log10(x / 1024) > f.lx1 + 1e-9) continue;
      const px = X(x);
      out.push(`<line x1="${px}" y1="${m.t}" x2="${px}" y2="${H - m.b}" stroke="${k === 1 ? "#ccc" : "#eee"}"/>`);
      if (k === 1 || f.lx1 - f.lx0 <= 3) out.push(`<text x="${px}" y="${H - m.b + 18}" font-size="11" text-anchor="middle" fill="#333">${fmtBytes(x)}</text>`);
    }
  }
  for (let y = f.y0; y <= f.y1 + 1e-9; y += 0.05) {
    const py = Y(y);
    out.push(`<line x1="${m.l}" y1="${py}" x2="${W - m.r}" y2="${py}" stroke="#eee"/>`);
    out.push(`<text x="${m.l - 8}" y="${py + 4}" font-size="11" text-anchor="end" fill="#333">${y.toFixed(2)}</text>`);
  }
  out.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#888"/>`);
  if (target !== undefined) {
    const py = Y(target);
    out.push(`<line x1="${m.l}" y1="${py}" x2="${W - m.r}" y2="${py}" stroke="#c00" stroke-dasharray="6 4"/>`);
    out.push(`<text x="${W - m.r - 4}" y="${py - 5}" font-size="11" text-anchor="end" fill="#c00">recall@10 = ${target}</text>`);
  }
  out.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 14}" font-size="13" text-anchor="middle">bytes a query reads from KV (log scale)</text>`);
  out.push(`<text transform="translate(18 ${(m.t + H - m.b) / 2}) rotate(-90)" font-size="13" text-anchor="middle">recall@10 vs exact float32</text>`);
  return out;
}

/** One series: its line, points, labels and marks, and its legend entry (row `index`). */
function seriesSvg(f: Frame, s: Series, index: number): string[] {
  const { X, Y, y0 } = f;
  const out: string[] = [];
  const dash = s.dashed ? ' stroke-dasharray="5 3"' : "";
  const pts = s.points.filter((p) => p.x > 0).sort((a, b) => a.x - b.x);
  if (pts.length > 1) out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${dash} points="${pts.map((p) => `${X(p.x).toFixed(1)},${Y(Math.max(y0, p.y)).toFixed(1)}`).join(" ")}"/>`);
  for (const p of pts) {
    if (p.y < y0) continue;
    out.push(`<circle cx="${X(p.x).toFixed(1)}" cy="${Y(p.y).toFixed(1)}" r="3" fill="${s.color}"/>`);
    if (p.label) out.push(`<text x="${(X(p.x) + 5).toFixed(1)}" y="${(Y(p.y) + 12).toFixed(1)}" font-size="9" fill="${s.color}">${esc(p.label)}</text>`);
  }
  for (const mk of s.marks ?? []) {
    out.push(`<circle cx="${X(mk.x).toFixed(1)}" cy="${Y(mk.y).toFixed(1)}" r="7" fill="none" stroke="${s.color}" stroke-width="2.5"/>`);
    out.push(`<text x="${(X(mk.x) - 8).toFixed(1)}" y="${(Y(mk.y) - 10).toFixed(1)}" font-size="11" font-weight="bold" text-anchor="end" fill="${s.color}">${esc(mk.label)}</text>`);
  }
  const ly = f.m.t + 8 + index * 20;
  const lx = f.W - f.m.r + 14;
  out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${s.color}" stroke-width="2.5"${dash}/>`);
  out.push(`<text x="${lx + 28}" y="${ly + 4}" font-size="11">${esc(s.name)}</text>`);
  return out;
}

export function recallBytesSvg(series: Series[], o: { title: string; subtitle?: string; target?: number; width?: number; height?: number }): string {
  const f = frameFor(series, o);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${f.W}" height="${f.H}" font-family="DejaVu Sans, Liberation Sans, sans-serif">`,
    `<rect width="${f.W}" height="${f.H}" fill="white"/>`,
    `<text x="${f.m.l}" y="26" font-size="18" font-weight="bold">${esc(o.title)}</text>`,
    ...(o.subtitle ? [`<text x="${f.m.l}" y="46" font-size="12" fill="#555">${esc(o.subtitle)}</text>`] : []),
    ...gridSvg(f, o.target),
    ...series.flatMap((s, i) => seriesSvg(f, s, i)),
    `</svg>`,
  ].join("\n");
}

export function svgToPng(svg: string): Buffer {
  const r = new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" }, fitTo: { mode: "original" } });
  return r.render().asPng();
}
