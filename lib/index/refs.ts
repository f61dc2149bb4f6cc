// Where each kind of binary value lives and how it is checked and decoded: the
// reads of fetch.ts take these. Keys and hashes come from the routing and the
// filter table (format.ts).
import {
  attributesKey,
  attributesStoredBytes,
  chunkKey,
  chunkStoredBytes,
  shardStoredBytes,
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

/**
 * The ref of value `i` of one kind: its size and hash from that kind's arrays,
 * decoded and then checked to be the value asked for (`wrong` names how it is
 * not, or is null), since a hash match alone does not say it belongs here.
 */
function blobRef<T>(key: string, what: string, bytes: number, hashes: Uint8Array, i: number, decode: (bytes: Uint8Array) => T, wrong: (value: T) => string | null): BlobRef<T> {
  return {
    key,
    bytes,
    sha: hashHex(hashes, i),
    what,
    decode(bytes) {
      const value = decode(bytes);
      const why = wrong(value);
      if (why !== null) throw new Error(why);
      return value;
    },
  };
}

export function shardRef(routing: Routing, leaf: number): BlobRef<Shard> {
  const key = shardKey(routing, leaf);
  return blobRef(key, `shard ${key} (leaf ${leaf})`, shardStoredBytes(routing, leaf), routing.shardHashes, leaf, decodeShard, (s) =>
    s.leaf !== leaf || s.pqM !== routing.pqM ? `not leaf ${leaf}'s` : null,
  );
}

export function attributesRef(table: FilterTable, leaf: number, count: number): BlobRef<Attributes> {
  const key = attributesKey(table, leaf);
  return blobRef(key, `filter attributes ${key} (leaf ${leaf})`, attributesStoredBytes(table.columns, count), table.attrHashes, leaf, decodeAttributes, (a) =>
    a.leaf !== leaf || a.columns !== table.columns || a.count !== count ? `not leaf ${leaf}'s` : null,
  );
}

export function chunkRef(table: FilterTable, chunk: number, column: number, pqM: number): BlobRef<ColumnChunk> {
  const key = chunkKey(table, chunk);
  return blobRef(key, `column chunk ${key} (column ${column})`, chunkStoredBytes(table, chunk, pqM), table.chunkHashes, chunk, decodeColumnChunk, (c) =>
    c.column !== column || c.columns !== table.columns || c.pqM !== pqM || c.count !== table.chunkCount[chunk] ? `not chunk ${chunk}` : null,
  );
}
