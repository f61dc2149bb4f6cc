// Every KV value one version of the index consists of, by kind: what deploys
// upload and keep, what GC may delete, what the build prunes. The manifest names
// the model, routing and catalog parts; the routing names the shards; the
// catalog names the item records.
import {
  attributesKey,
  attributesStoredBytes,
  chunkKey,
  chunkStoredBytes,
  shardStoredBytes,
  decodeCatalog,
  decodeFilterTable,
  decodeLexiconHead,
  decodeLexiconPart,
  decodeRouting,
  joinParts,
  lexiconPartKey,
  shardKey,
  tailKey,
  textToBlob,
  type FilterTable,
  type Routing,
} from "./format.ts";
import type { BlobRef, Manifest } from "./manifest.ts";

export interface ValueRef {
  key: string;
  bytes: number;
}

export interface VersionValues {
  model: ValueRef[];
  routing: ValueRef[];
  catalog: ValueRef[];
  shards: ValueRef[];
  items: ValueRef[];
  /** Filter table parts, leaf attributes and column chunks (empty without filters). */
  filters: ValueRef[];
  /** The resident blocks (empty when the build wrote none). */
  resident: ValueRef[];
  /** Lexicon head parts, lexicon parts and postings tails (empty without a lexical index). */
  lexical: ValueRef[];
}

export type ReadTexts = (keys: string[]) => Promise<Map<string, string | null>>;

async function readParts(refs: BlobRef[], what: string, read: ReadTexts): Promise<Uint8Array> {
  const texts = await read(refs.map((r) => r.key));
  return joinParts(
    refs.map((r) => {
      const t = texts.get(r.key);
      if (t == null) throw new Error(`${what} part ${r.key} is unreadable`);
      return t;
    }),
  );
}

export async function readRouting(m: Manifest, read: ReadTexts): Promise<Routing> {
  return decodeRouting(await readParts(m.routing, `routing of version ${m.version}`, read));
}

export function shardRefs(routing: Routing): ValueRef[] {
  return Array.from({ length: routing.leaves }, (_, l) => ({ key: shardKey(routing, l), bytes: shardStoredBytes(routing, l) }));
}

export async function readFilterTable(m: Manifest, read: ReadTexts): Promise<FilterTable | null> {
  if (!m.filters) return null;
  return decodeFilterTable(await readParts(m.filters.table, `filter table of version ${m.version}`, read));
}

/** Every leaf's attributes and every column chunk, each key once (a small index's two chunk orders can coincide). */
export function filterValueRefs(t: FilterTable, routing: Routing): ValueRef[] {
  const refs = new Map<string, ValueRef>();
  for (let l = 0; l < t.leaves; l++) refs.set(attributesKey(t, l), { key: attributesKey(t, l), bytes: attributesStoredBytes(t.columns, routing.leafSizes[l]) });
  for (let c = 0; c < t.chunks; c++) refs.set(chunkKey(t, c), { key: chunkKey(t, c), bytes: chunkStoredBytes(t, c, routing.pqM) });
  return [...refs.values()];
}

/** Every text of `keys`, in order, read a thousand keys at a time; a missing one fails the read, never a shorter list. */
export async function readTextsInBatches(keys: string[], read: ReadTexts, what: string): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < keys.length; i += 1000) {
    const batch = keys.slice(i, i + 1000);
    const texts = await read(batch);
    for (const key of batch) {
      const t = texts.get(key);
      if (t == null) throw new Error(`${what} ${key} is unreadable`);
      out.push(t);
    }
  }
  return out;
}

/** The lexical index's values: the head and delta parts; the head names the lexicon parts, each part its tails (so every part is read). */
export async function lexicalValueRefs(m: Manifest, read: ReadTexts): Promise<ValueRef[]> {
  if (!m.lexical) return [];
  const head = decodeLexiconHead(await readParts(m.lexical.head, `lexicon head of version ${m.version}`, read));
  const refs: ValueRef[] = [...m.lexical.head, ...(m.lexical.delta?.parts ?? [])];
  const keys = Array.from({ length: head.parts }, (_, p) => lexiconPartKey(head, p));
  const texts = await readTextsInBatches(keys, read, `lexicon part of version ${m.version}:`);
  texts.forEach((t, i) => {
    refs.push({ key: keys[i], bytes: head.partBytes[i] });
    const part = decodeLexiconPart(textToBlob(t));
    for (let r = 0; r < part.tailTerm.length; r++) refs.push({ key: tailKey(part, r), bytes: part.tailBytes[r] });
  });
  return refs;
}

/** Reads the routing and catalog through `read`; throws when either is unreadable, never guesses. */
export async function versionValues(m: Manifest, read: ReadTexts): Promise<VersionValues> {
  const routing = await readRouting(m, read);
  const catalog = decodeCatalog(await readParts(m.catalog, `catalog of version ${m.version}`, read));
  const table = await readFilterTable(m, read);
  return {
    model: [m.model.topology, m.model.weights, m.model.vocab],
    routing: m.routing,
    catalog: m.catalog,
    shards: shardRefs(routing),
    items: catalog,
    filters: table && m.filters ? [...m.filters.table, ...filterValueRefs(table, routing)] : [],
    resident: m.resident?.blocks ?? [],
    lexical: await lexicalValueRefs(m, read),
  };
}

export function allValues(v: VersionValues): ValueRef[] {
  return [...v.model, ...v.routing, ...v.catalog, ...v.shards, ...v.filters, ...v.resident, ...v.lexical, ...v.items];
}
