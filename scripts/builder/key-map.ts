// Item keys (format.ts: the first ITEM_KEY_BYTES bytes of a record's sha256)
// mapped to a number, in typed arrays. An extending build looks up every item
// of its base by key; at ten million items a Map or Set of hex strings holds
// gigabytes of heap, where this holds the keys' bytes, a value and two slots
// each (docs/decisions.md#a-1-change-at-scale).
import { ITEM_KEY_BYTES } from "../../lib/index/format.ts";

const ABSENT = -1;

export class KeyMap {
  private keyBytes: Uint8Array;
  private values: Int32Array;
  /** Open addressing, linear probing: a slot holds a key's index + 1, 0 when empty; at most half full. */
  private slots: Uint32Array;
  private count = 0;

  constructor(expected = 16) {
    const capacity = Math.max(16, expected);
    this.keyBytes = new Uint8Array(capacity * ITEM_KEY_BYTES);
    this.values = new Int32Array(capacity);
    this.slots = new Uint32Array(slotCount(capacity));
  }

  /** A map of each key in `keys` (row-major) to its row; a key listed twice maps to its last row, as a Map built from the rows would. */
  static rows(keys: Uint8Array): KeyMap {
    const n = keys.length / ITEM_KEY_BYTES;
    const m = new KeyMap(n);
    for (let row = 0; row < n; row++) m.set(keys, row * ITEM_KEY_BYTES, row);
    return m;
  }

  /** Distinct keys held. */
  get size(): number {
    return this.count;
  }

  /** The value of the key at `bytes[offset …]`, or -1 when the map does not hold it. */
  get(bytes: Uint8Array, offset = 0): number {
    const slot = this.slots[this.find(bytes, offset)];
    return slot === 0 ? ABSENT : this.values[slot - 1];
  }

  has(bytes: Uint8Array, offset = 0): boolean {
    return this.slots[this.find(bytes, offset)] !== 0;
  }

  /** Sets the key at `bytes[offset …]` to `value` (a non-negative integer below 2³¹). */
  set(bytes: Uint8Array, offset: number, value: number): void {
    const s = this.find(bytes, offset);
    if (this.slots[s] !== 0) {
      this.values[this.slots[s] - 1] = value;
      return;
    }
    if (this.count === this.values.length) {
      this.grow();
      this.set(bytes, offset, value);
      return;
    }
    this.keyBytes.set(bytes.subarray(offset, offset + ITEM_KEY_BYTES), this.count * ITEM_KEY_BYTES);
    this.values[this.count] = value;
    this.slots[s] = ++this.count;
  }

  /** The i-th distinct key added (0 ≤ i < size), a view of the map's own bytes. */
  key(i: number): Uint8Array {
    return this.keyBytes.subarray(i * ITEM_KEY_BYTES, (i + 1) * ITEM_KEY_BYTES);
  }

  /** The slot holding the key, or the empty slot where it would go. */
  private find(bytes: Uint8Array, offset: number): number {
    const mask = this.slots.length - 1;
    // The keys are hash prefixes, so their first four bytes spread them; the multiply only guards against keys that are not.
    let s = Math.imul(bytes[offset] | (bytes[offset + 1] << 8) | (bytes[offset + 2] << 16) | (bytes[offset + 3] << 24), 0x9e3779b1) >>> 0;
    for (s &= mask; ; s = (s + 1) & mask) {
      const at = this.slots[s];
      if (at === 0 || this.sameKey(at - 1, bytes, offset)) return s;
    }
  }

  private sameKey(i: number, bytes: Uint8Array, offset: number): boolean {
    const o = i * ITEM_KEY_BYTES;
    for (let b = 0; b < ITEM_KEY_BYTES; b++) if (this.keyBytes[o + b] !== bytes[offset + b]) return false;
    return true;
  }

  private grow(): void {
    const capacity = this.values.length * 2;
    const keyBytes = new Uint8Array(capacity * ITEM_KEY_BYTES);
    keyBytes.set(this.keyBytes);
    const values = new Int32Array(capacity);
    values.set(this.values);
    this.keyBytes = keyBytes;
    this.values = values;
    this.slots = new Uint32Array(slotCount(capacity));
    for (let i = 0; i < this.count; i++) this.slots[this.find(keyBytes, i * ITEM_KEY_BYTES)] = i + 1;
  }
}

/** A power of two at least twice the keys held. */
function slotCount(capacity: number): number {
  let n = 32;
  while (n < 2 * capacity) n *= 2;
  return n;
}
