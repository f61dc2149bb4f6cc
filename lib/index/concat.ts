// One typed array from several, in order (routing/catalog parts, a pool's results).
export function concat<T extends Float32Array | Int32Array | Uint8Array>(parts: T[]): T {
  const Ctor = (parts[0]?.constructor ?? Uint8Array) as { new (n: number): T };
  const out = new Ctor(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
