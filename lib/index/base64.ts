// Portable base64 without Buffer (absent in workerd without nodejs_compat) and
// without atob's intermediate binary string, which costs an extra copy per shard.
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

export function toBase64(bytes: Uint8Array): string {
  const parts: string[] = [];
  const CHUNK = 3 * 4096;
  for (let start = 0; start < bytes.length; start += CHUNK) {
    const end = Math.min(start + CHUNK, bytes.length);
    let s = "";
    let i = start;
    for (; i + 2 < end; i += 3) {
      const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
      s += ALPHABET[n >>> 18] + ALPHABET[(n >>> 12) & 63] + ALPHABET[(n >>> 6) & 63] + ALPHABET[n & 63];
    }
    if (i < end) {
      const n = (bytes[i] << 16) | ((i + 1 < end ? bytes[i + 1] : 0) << 8);
      s += ALPHABET[n >>> 18] + ALPHABET[(n >>> 12) & 63] + (i + 1 < end ? ALPHABET[(n >>> 6) & 63] : "=") + "=";
    }
    parts.push(s);
  }
  return parts.join("");
}

export function fromBase64(text: string): Uint8Array {
  let len = text.length;
  if (len % 4 !== 0) throw new Error("base64 length is not a multiple of 4");
  let pad = 0;
  if (len > 0 && text.charCodeAt(len - 1) === 61) pad++;
  if (len > 1 && text.charCodeAt(len - 2) === 61) pad++;
  const out = new Uint8Array((len / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < len; i += 4) {
    const a = DECODE[text.charCodeAt(i) & 127];
    const b = DECODE[text.charCodeAt(i + 1) & 127];
    const c = text.charCodeAt(i + 2) === 61 ? 0 : DECODE[text.charCodeAt(i + 2) & 127];
    const d = text.charCodeAt(i + 3) === 61 ? 0 : DECODE[text.charCodeAt(i + 3) & 127];
    if ((a | b | c | d) < 0 || text.charCodeAt(i) > 127 || text.charCodeAt(i + 1) > 127 || text.charCodeAt(i + 2) > 127 || text.charCodeAt(i + 3) > 127) throw new Error("invalid base64");
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = n >>> 16;
    if (o < out.length) out[o++] = (n >>> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}
