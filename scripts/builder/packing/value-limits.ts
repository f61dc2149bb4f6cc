// Workers KV refuses values over 25 MiB. Routing and catalog are split into parts
// by construction; a shard or an item record can still grow past the limit
// (a leaf of near-identical items, an enormous text), and the build must stop
// with the value's name and the knob that shrinks it, not fail at upload.
import { MAX_KV_VALUE_BYTES } from "../../../lib/index/format.ts";
import { UsageError } from "../../common/cli.ts";
import { itemKey, type BuiltIndex } from "../build-index.ts";

export class ValueTooLargeError extends UsageError {}

const MiB = 1024 * 1024;

export function checkValueSizes(built: BuiltIndex, leafSize: number, limit = MAX_KV_VALUE_BYTES): void {
  const over = (bytes: number) => bytes > limit;
  const size = (bytes: number) => `${bytes.toLocaleString("en")} bytes (${(bytes / MiB).toFixed(2)} MiB), over the ${limit.toLocaleString("en")} bytes a Workers KV value may hold`;
  built.shards.forEach((s, leaf) => {
    if (over(s.ref.bytes)) throw new ValueTooLargeError(`shard ${s.ref.key} (leaf ${leaf}) is ${size(s.ref.bytes)}: lower --leaf-size (now ${leafSize}) or remove near-duplicate items`);
  });
  built.recordBytes.forEach((bytes, i) => {
    if (over(bytes)) throw new ValueTooLargeError(`item record ${itemKey(built.keyBytes, i)} (item ${i}) is ${size(bytes)}: shorten that item's text or metadata`);
  });
  const f = built.filters;
  f?.attributes.forEach((a, leaf) => {
    if (over(a.ref.bytes)) throw new ValueTooLargeError(`filter attributes ${a.ref.key} (leaf ${leaf}) are ${size(a.ref.bytes)}: lower --leaf-size (now ${leafSize}) or --filterable fewer columns`);
  });
  for (const c of f?.chunks ?? []) {
    if (over(c.ref.bytes)) throw new ValueTooLargeError(`column chunk ${c.ref.key} is ${size(c.ref.bytes)}: --filterable fewer columns`);
  }
  for (const part of [...built.routing, ...built.catalog, ...(f?.table ?? []), ...(built.resident?.blocks ?? [])]) {
    if (over(part.ref.bytes)) throw new ValueTooLargeError(`index part ${part.ref.key} is ${size(part.ref.bytes)}: this is a bug in the part size (lib/index/format.ts MAX_PART_BYTES, scripts/builder/packing/resident-blocks.ts BLOCK_MAX_BYTES)`);
  }
}
