// Where each kind of binary value lives and how it is checked and decoded: the
// reads of fetch.ts take these. Keys and hashes come from the routing and the
// filter table (format.ts).
import {
  attributesKey,
  chunkKey,
  decodeAttributes,
  decodeColumnChunk,
  decodeShard,
  hex,
  shardKey,
  SHARD_HASH_BYTES,
  type Attributes,
  type ColumnChunk,
  type FilterTable,
  type Routing,
  type Shard,
} from "./format.ts";
import type { BlobRef } from "./fetch.ts";

function hashHex(hashes: Uint8Array, i: number): string {
  return hex(hashes, i * SHARD_HASH_BYTES, (i + 1) * SHARD_HASH_BYTES);
}

export function shardRef(routing: Routing, leaf: number): BlobRef<Shard> {
  const key = shardKey(routing, leaf);
  return {
    key,
    bytes: routing.shardBytes[leaf],
    sha: hashHex(routing.shardHashes, leaf),
    what: `shard ${key} (leaf ${leaf})`,
    decode(bytes) {
      const shard = decodeShard(bytes);
      if (shard.leaf !== leaf || shard.pqM !== routing.pqM) throw new Error(`not leaf ${leaf}'s`);
      return shard;
    },
  };
}

export function attributesRef(table: FilterTable, leaf: number, count: number): BlobRef<Attributes> {
  const key = attributesKey(table, leaf);
  return {
    key,
    bytes: table.attrBytes[leaf],
    sha: hashHex(table.attrHashes, leaf),
    what: `filter attributes ${key} (leaf ${leaf})`,
    decode(bytes) {
      const a = decodeAttributes(bytes);
      if (a.leaf !== leaf || a.columns !== table.columns || a.count !== count) throw new Error(`not leaf ${leaf}'s`);
      return a;
    },
  };
}

export function chunkRef(table: FilterTable, chunk: number, column: number, pqM: number): BlobRef<ColumnChunk> {
  const key = chunkKey(table, chunk);
  return {
    key,
    bytes: table.chunkBytes[chunk],
    sha: hashHex(table.chunkHashes, chunk),
    what: `column chunk ${key} (column ${column})`,
    decode(bytes) {
      const c = decodeColumnChunk(bytes);
      if (c.column !== column || c.columns !== table.columns || c.pqM !== pqM || c.count !== table.chunkCount[chunk]) throw new Error(`not chunk ${chunk}`);
      return c;
    },
  };
}
