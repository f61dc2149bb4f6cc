// Types of assets.js, which scripts/page/bundle-page.ts generates (git-ignored;
// wrangler's [build] command and the test setup write it). Committed so that tsc
// passes on a fresh clone before any build.

/** The page's client script (functions/page/client/) bundled: the exact text of its inline <script>. */
export declare const PAGE_JS: string;
/** base64 SHA-256 of PAGE_JS, for the CSP's script-src. */
export declare const PAGE_JS_SHA256: string;
/** base64 SHA-256 of PAGE_CSS (functions/page/style.ts), for the CSP's style-src. */
export declare const PAGE_CSS_SHA256: string;
