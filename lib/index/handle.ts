// An open index version, as search sees it: what openIndex (reader.ts) returns
// and every search path (plain, filtered, resident) reads. Its own module so that
// those paths depend on it rather than on each other.
import type { FilterTable, Routing } from "./format.ts";
import type { Manifest } from "./manifest.ts";
import type { FilterField } from "../filter/values.ts";
import type { BlobSource, ValueCache } from "./fetch.ts";
import type { ResidentRecords } from "./resident.ts";
import type { LexicalIndex } from "../lexical/search.ts";

export interface IndexFilters {
  fields: FilterField[];
  table: FilterTable;
}

export interface IndexHandle {
  manifest: Manifest;
  routing: Routing;
  /** Null when the build declared no filterable column. */
  filters: IndexFilters | null;
  source: BlobSource;
  cache: ValueCache | null;
  /** The lexical index's head (format.ts §9), null when the build wrote none: lexical and hybrid search need it. */
  lexical?: LexicalIndex | null;
  /**
   * The version's records in isolate memory (resident.ts), once loaded: round 2
   * looks its candidates up here and reads from KV only what is not held.
   */
  resident?: ResidentRecords | null;
}
