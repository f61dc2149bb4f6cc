// The page's Content-Security-Policy: nothing loads from anywhere but this
// origin, and the only script or style that runs is the page's own, named by
// its sha256. Any other inline script (e.g. injected markup) is refused.
import { INLINE_SCRIPT, INLINE_STYLE } from "./document.ts";

async function sha256Base64(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  let binary = "";
  for (const b of digest) binary += String.fromCharCode(b);
  return btoa(binary);
}

export async function buildCsp(): Promise<string> {
  const [script, style] = await Promise.all([sha256Base64(INLINE_SCRIPT), sha256Base64(INLINE_STYLE)]);
  return [
    "default-src 'none'",
    `script-src 'sha256-${script}'`,
    `style-src 'sha256-${style}'`,
    "connect-src 'self'",
    "img-src data:",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

let csp: Promise<string> | undefined;
/** Hashed once per isolate. */
export function pageCsp(): Promise<string> {
  csp ??= buildCsp();
  return csp;
}
