// A round-1 ranking meets an item more than once when the build spilled it into
// a second leaf, or when chunks of two filtered columns both list it: it must
// be ranked once. Keys are compared by their first 6 bytes (exact in a double),
// and a prefix match is confirmed on all 8 bytes, so no string is built per entry.
import { ITEM_KEY_BYTES } from "./format.ts";
import { ENTRY_SPAN } from "./leaves.ts";

export class ItemOnce {
  /** Key prefix → the entry (source · ENTRY_SPAN + e) that first had it. */
  private readonly first = new Map<number, number>();

  constructor(private readonly keysOf: (source: number) => Uint8Array) {}

  /** True the first time the item of entry `e` of `source` is offered. */
  take(source: number, e: number): boolean {
    const keys = this.keysOf(source);
    const prefix = keyPrefix(keys, e);
    const seen = this.first.get(prefix);
    if (seen === undefined) {
      this.first.set(prefix, source * ENTRY_SPAN + e);
      return true;
    }
    return !sameKey(this.keysOf(Math.floor(seen / ENTRY_SPAN)), seen % ENTRY_SPAN, keys, e);
  }
}

function keyPrefix(keys: Uint8Array, e: number): number {
  const o = e * ITEM_KEY_BYTES;
  return keys[o] + keys[o + 1] * 2 ** 8 + keys[o + 2] * 2 ** 16 + keys[o + 3] * 2 ** 24 + keys[o + 4] * 2 ** 32 + keys[o + 5] * 2 ** 40;
}

function sameKey(a: Uint8Array, ea: number, b: Uint8Array, eb: number): boolean {
  for (let i = 0; i < ITEM_KEY_BYTES; i++) if (a[ea * ITEM_KEY_BYTES + i] !== b[eb * ITEM_KEY_BYTES + i]) return false;
  return true;
}
