// WebCrypto exists in both workerd and Node 20 (globalThis.crypto), so one helper serves both.
import { hex } from "./format.ts";

const encoder = new TextEncoder();

export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return hex(new Uint8Array(digest));
}

export function blobKeyFor(sha256: string): string {
  return `blob/${sha256.slice(0, 32)}`;
}
