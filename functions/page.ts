// `GET /`: the search page (functions/page/*) with its security headers.
import { PAGE_HTML } from "./page/document.ts";
import { PAGE_CSP } from "./page/csp.ts";

export async function page(request: Request): Promise<Response> {
  return new Response(request.method === "HEAD" ? null : PAGE_HTML, {
    headers: {
      "Content-Type": "text/html; charset=utf-8",
      "Cache-Control": "public, max-age=300",
      "Content-Security-Policy": PAGE_CSP,
      "X-Content-Type-Options": "nosniff",
      "Referrer-Policy": "no-referrer",
    },
  });
}
