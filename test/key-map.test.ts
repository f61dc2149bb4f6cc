// KeyMap: item keys to numbers in typed arrays, as a Map of hex keys would map them.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { hex, ITEM_KEY_BYTES } from "../lib/index/format.ts";
import { KeyMap } from "../scripts/builder/key-map.ts";

/** n keys as a build makes them: the first bytes of a sha256. */
function keys(n: number, salt = ""): Uint8Array {
  const out = new Uint8Array(n * ITEM_KEY_BYTES);
  for (let i = 0; i < n; i++) out.set(createHash("sha256").update(`${salt}${i}`).digest().subarray(0, ITEM_KEY_BYTES), i * ITEM_KEY_BYTES);
  return out;
}

describe("KeyMap", () => {
  it("maps every row's key to its row, and keys it does not hold to -1, across growth", () => {
    const k = keys(5000);
    const rows = KeyMap.rows(k);
    expect(rows.size).toBe(5000);
    for (let i = 0; i < 5000; i++) expect(rows.get(k, i * ITEM_KEY_BYTES)).toBe(i);
    const other = keys(200, "other");
    for (let i = 0; i < 200; i++) expect(rows.get(other, i * ITEM_KEY_BYTES)).toBe(-1);
    // Grown from its smallest size, set one key at a time: the same answers, and the keys in the order added.
    const grown = new KeyMap();
    for (let i = 0; i < 5000; i++) grown.set(k, i * ITEM_KEY_BYTES, i);
    expect(grown.size).toBe(5000);
    for (let i = 0; i < 5000; i += 7) {
      expect(grown.get(k, i * ITEM_KEY_BYTES)).toBe(i);
      expect(hex(grown.key(i), 0, ITEM_KEY_BYTES)).toBe(hex(k, i * ITEM_KEY_BYTES, (i + 1) * ITEM_KEY_BYTES));
    }
    expect(grown.has(other, 0)).toBe(false);
  });

  it("a key set twice is held once, with its last value, as a Map keeps it", () => {
    const k = keys(100);
    const twice = new Uint8Array(200 * ITEM_KEY_BYTES);
    twice.set(k);
    twice.set(k, 100 * ITEM_KEY_BYTES);
    const m = KeyMap.rows(twice);
    const reference = new Map(Array.from({ length: 200 }, (_, i) => [hex(twice, i * ITEM_KEY_BYTES, (i + 1) * ITEM_KEY_BYTES), i]));
    expect(m.size).toBe(reference.size);
    for (let i = 0; i < 100; i++) expect(m.get(k, i * ITEM_KEY_BYTES)).toBe(reference.get(hex(k, i * ITEM_KEY_BYTES, (i + 1) * ITEM_KEY_BYTES)));
  });

  it("tells keys apart that share their first four bytes (the bytes it hashes)", () => {
    const a = new Uint8Array(2 * ITEM_KEY_BYTES);
    a.set([1, 2, 3, 4, 5, 6, 7, 8], 0);
    a.set([1, 2, 3, 4, 5, 6, 7, 9], ITEM_KEY_BYTES);
    const m = KeyMap.rows(a);
    expect(m.size).toBe(2);
    expect(m.get(a, 0)).toBe(0);
    expect(m.get(a, ITEM_KEY_BYTES)).toBe(1);
    expect(m.get(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 10]))).toBe(-1);
  });
});
