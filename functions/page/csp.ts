// The page's Content-Security-Policy: nothing loads from anywhere but this
// origin, and the only script or style that runs is the page's own, named by
// its sha256. Any other inline script (e.g. injected markup) is refused. The
// hashes are computed when the page is built (scripts/page/assets.ts), from the
// exact text document.ts puts between the tags.
import { PAGE_CSS_SHA256, PAGE_JS_SHA256 } from "./generated/assets.js";

export const PAGE_CSP = [
  "default-src 'none'",
  `script-src 'sha256-${PAGE_JS_SHA256}'`,
  `style-src 'sha256-${PAGE_CSS_SHA256}'`,
  "connect-src 'self'",
  "img-src data:",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");
