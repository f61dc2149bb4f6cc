// A byte-bounded LRU for decoded shards and item records. Keys are content
// addressed, so an entry can never be stale and versions can share it safely.
export class ByteLru<V> {
  private readonly map = new Map<string, { value: V; bytes: number }>();
  private used = 0;
  constructor(readonly capacityBytes: number) {}

  get(key: string): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    this.map.delete(key);
    this.map.set(key, e);
    return e.value;
  }

  set(key: string, value: V, bytes: number): void {
    if (bytes > this.capacityBytes) return;
    const old = this.map.get(key);
    if (old) {
      this.used -= old.bytes;
      this.map.delete(key);
    }
    this.map.set(key, { value, bytes });
    this.used += bytes;
    while (this.used > this.capacityBytes) {
      const [k, e] = this.map.entries().next().value as [string, { value: V; bytes: number }];
      this.map.delete(k);
      this.used -= e.bytes;
    }
  }

  get bytes(): number {
    return this.used;
  }
  get size(): number {
    return this.map.size;
  }
}
