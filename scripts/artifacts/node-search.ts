// The Worker's search code (lib/index/reader.ts) over a build's artifacts on
// disk, for Node: `npm run search`, the bench, the load test and the tests. Also
// exact search (brute force over the float32 vectors), the ground truth.
import type { ItemRecord } from "../../lib/index/format.ts";
import type { Manifest } from "../../lib/index/manifest.ts";
import { searchMode, type ModeOptions, type ModeResult } from "../../lib/lexical/hybrid.ts";
import { openIndex, searchVector, type FilterStats, type SearchHit, type IndexHandle } from "../../lib/index/reader.ts";
import { FileSource, readManifest, readRecordTexts, readVectors } from "./dir.ts";
import { exactTopK, exactTopKOf } from "../builder/check/self-check.ts";
import { encodeColumns, matchingRows } from "../builder/packing/filter-columns.ts";
import { compileFilter, FilterError, type CompiledFilter } from "../../lib/filter/compile.ts";
import type { FilterField } from "../../lib/filter/values.ts";
import { dot } from "../../lib/index/vector.ts";

export interface QueryAnswer {
  q: string;
  results: SearchHit[];
  stats: { shards: number; bytes: number; roundTrips: number; filter?: FilterStats };
}

export class ArtifactSearch {
  private constructor(
    readonly manifest: Manifest,
    readonly source: FileSource,
    readonly handle: IndexHandle,
    private vectors: Float32Array | undefined,
    readonly dir: string,
  ) {}

  private columns: Float64Array | undefined;

  /** The filterable fields of this index (none when the build declared none). */
  get fields(): FilterField[] {
    return this.manifest.filters?.fields ?? [];
  }

  /** A filter's JSON compiled against this index's fields; FilterError when it is wrong. */
  compile(filterJson: string): CompiledFilter | null {
    let input: unknown;
    try {
      input = JSON.parse(filterJson);
    } catch (e) {
      throw new FilterError("invalid_filter", "filter", `not JSON: ${(e as Error).message}`);
    }
    return compileFilter(input, { fields: this.fields }, Buffer.byteLength(filterJson));
  }

  private records: ItemRecord[] | undefined;

  /** Every item record, in item order. */
  async allRecords(): Promise<ItemRecord[]> {
    this.records ??= (await readRecordTexts(this.dir)).map((t) => JSON.parse(t) as ItemRecord);
    return this.records;
  }

  /** Every item's encoded filter values, from the records, as the build encoded them. */
  private async columnValues(): Promise<Float64Array> {
    this.columns ??= encodeColumns(await this.allRecords(), this.fields);
    return this.columns;
  }

  /** The ids of every item that passes the filter. */
  async matchingIds(filter: CompiledFilter): Promise<string[]> {
    const rows = matchingRows(await this.columnValues(), this.manifest.items, filter);
    const records = await this.allRecords();
    return rows.map((r) => records[r].id);
  }

  static async open(dir: string): Promise<ArtifactSearch> {
    const manifest = await readManifest(dir);
    const source = await FileSource.open(dir);
    return new ArtifactSearch(manifest, source, await openIndex(manifest, source, null), undefined, dir);
  }

  async approximate(q: Float32Array, k: number, knobs: { nprobe?: number; probeMargin?: number; rerank?: number; rerankMargin?: number; filter?: CompiledFilter | null; filterBytes?: number } = {}): Promise<{ results: SearchHit[]; stats: QueryAnswer["stats"] }> {
    const { results, stats } = await searchVector(this.handle, q, { k, ...knobs });
    return { results, stats: { shards: stats.shards, bytes: stats.bytes, roundTrips: stats.roundTrips, ...(stats.filter ? { filter: stats.filter } : {}) } };
  }

  /** A query in a search mode (lib/lexical/hybrid.ts), the Worker's code: semantic, lexical or hybrid. */
  async query(text: string, q: Float32Array, o: Omit<ModeOptions, "k"> & { k: number }): Promise<ModeResult> {
    return searchMode(this.handle, { text, vector: q }, o);
  }

  async exact(q: Float32Array, k: number, filter: CompiledFilter | null = null): Promise<{ results: SearchHit[]; stats: QueryAnswer["stats"] }> {
    this.vectors ??= await readVectors(this.dir, this.manifest.dim);
    const dim = this.manifest.dim;
    const n = this.manifest.items;
    const rows = filter ? exactTopKOf(this.vectors, dim, matchingRows(await this.columnValues(), n, filter), q, k) : exactTopK(this.vectors, dim, n, q, k);
    const results = await Promise.all(
      rows.map(async (row) => {
        const r = JSON.parse(await this.source.recordText(row)) as ItemRecord;
        return { id: r.id, score: dot(q, this.vectors!, row * dim, dim), text: r.text, meta: r.meta };
      }),
    );
    return { results, stats: { shards: 0, bytes: this.vectors.byteLength, roundTrips: 0 } };
  }
}
