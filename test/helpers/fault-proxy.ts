// A local HTTP proxy in front of a test Worker's /embed, for the fleet tests: it
// records every request (texts, Authorization, arrival time) and can answer one
// with a fault instead of forwarding it: a 429 with Retry-After, a 5xx, a
// connection dropped before any reply or in the middle of one, no reply at all, or the Worker's
// real reply with its vectors changed (a remote with the wrong model).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type Fault =
  | { kind: "status"; status: number; retryAfter?: string; body?: unknown }
  | { kind: "drop" }
  /** Never answered: the request hangs until the client gives up or dies. */
  | { kind: "hold" }
  | { kind: "cut" }
  | { kind: "mangle"; vectors: (vs: number[][]) => number[][]; model?: string };

export interface ProxiedRequest {
  index: number;
  texts: string[];
  authorization: string | undefined;
  at: number;
  fault?: Fault["kind"];
}

export interface FaultProxy {
  url: string;
  requests: ProxiedRequest[];
  /** Texts the Worker embedded and the client got back whole (faulted replies excluded). */
  served(): string[];
  close(): Promise<void>;
}

/** `plan(i, texts)` picks a fault for the i-th request (0-based), or undefined to forward it. */
export async function startFaultProxy(target: URL | string, plan: (i: number, texts: string[]) => Fault | undefined = () => undefined): Promise<FaultProxy> {
  const requests: ProxiedRequest[] = [];
  const servedTexts: string[] = [];
  const server = createServer((req, res) => void handle(req, res));
  // Keep-alive sockets would hold close() open.
  server.keepAliveTimeout = 1;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    let texts: string[] = [];
    try {
      texts = (JSON.parse(raw) as { texts: string[] }).texts ?? [];
    } catch {
      /* forwarded as is: the Worker answers it */
    }
    const index = requests.length;
    const fault = plan(index, texts);
    requests.push({ index, texts, authorization: req.headers.authorization, at: performance.now(), fault: fault?.kind });
    if (fault?.kind === "hold") return;
    if (fault?.kind === "drop") {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === "status") {
      const headers: Record<string, string> = { "Content-Type": "application/json" };
      if (fault.retryAfter !== undefined) headers["Retry-After"] = fault.retryAfter;
      res.writeHead(fault.status, headers).end(JSON.stringify(fault.body ?? { error: { code: `injected_${fault.status}`, message: "injected by the test proxy" } }));
      return;
    }
    const upstream = await fetch(new URL(req.url ?? "/embed", target), {
      method: req.method,
      headers: { "Content-Type": "application/json", ...(req.headers.authorization ? { Authorization: req.headers.authorization } : {}) },
      body: req.method === "GET" ? undefined : raw,
    });
    let body = await upstream.text();
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    for (const h of ["retry-after", "server-timing", "www-authenticate"]) {
      const v = upstream.headers.get(h);
      if (v) headers[h] = v;
    }
    if (fault?.kind === "mangle" && upstream.ok) {
      const b = JSON.parse(body) as { model: string; dim: number; vectors: number[][] };
      body = JSON.stringify({ ...b, model: fault.model ?? b.model, vectors: fault.vectors(b.vectors) });
    }
    if (fault?.kind === "cut") {
      // Headers and half the body, then the connection goes.
      res.writeHead(upstream.status, { ...headers, "Content-Length": String(Buffer.byteLength(body)) });
      res.write(body.slice(0, body.length >> 1), () => req.socket.destroy());
      return;
    }
    if (upstream.ok && fault === undefined) servedTexts.push(...texts);
    res.writeHead(upstream.status, headers).end(body);
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    served: () => [...servedTexts],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Unit vector noise: each vector moved by `eps` in a fixed direction, renormalised (cosine ≈ 1 − eps²/2). */
export function nudge(vs: number[][], eps: number, only?: number): number[][] {
  return vs.map((v, i) => {
    if (only !== undefined && i !== only) return v;
    const w = v.map((x, j) => x + (j % 2 ? eps : -eps) / Math.sqrt(v.length));
    const n = Math.hypot(...w);
    return w.map((x) => x / n);
  });
}
