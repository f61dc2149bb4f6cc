// LangChain.js over the /v1 API: a retriever, a read-only vector store and the
// index's embeddings. `@langchain/core` is an optional peer dependency: only
// this module needs it. Import it as `edge-semantic-search/langchain`.
import { BaseRetriever, type BaseRetrieverInput } from "@langchain/core/retrievers";
import { Document, type DocumentInterface } from "@langchain/core/documents";
import { VectorStore } from "@langchain/core/vectorstores";
import { Embeddings, type EmbeddingsParams } from "@langchain/core/embeddings";
import { SearchClient, type ClientOptions, type Filter, type Hit, type SearchOptions } from "./client.ts";

/** Where to reach the API: a client, or the options to make one. */
export type Connection = { client: SearchClient } | ClientOptions;

function clientOf(c: Connection): SearchClient {
  return "client" in c ? c.client : new SearchClient(c);
}

/** A hit as a LangChain document: the text, and the item's metadata with its id and score. */
export function hitToDocument(hit: Hit): Document {
  return new Document({ id: hit.id, pageContent: hit.text, metadata: { ...hit.meta, id: hit.id, score: hit.score } });
}

export type EdgeSearchRetrieverInput = BaseRetrieverInput &
  Connection & {
    /** Hits per query (1–100; the API's default 10). */
    k?: number;
    /** A filter every query of this retriever applies. */
    filter?: Filter;
    /** A search mode the deployment supports (e.g. hybrid), passed through as the API's `mode`. */
    mode?: SearchOptions["mode"];
    /** Any further query knobs, passed through as they are. */
    searchOptions?: SearchOptions;
  };

/** Documents for a query text from the deployed index (the query is embedded by the Worker). */
export class EdgeSearchRetriever extends BaseRetriever {
  lc_namespace = ["edge_semantic_search", "retrievers"];
  static lc_name(): string {
    return "EdgeSearchRetriever";
  }
  readonly client: SearchClient;
  private readonly options: SearchOptions;

  constructor(fields: EdgeSearchRetrieverInput) {
    super(fields);
    this.client = clientOf(fields);
    this.options = { ...(fields.searchOptions ?? {}), k: fields.k, filter: fields.filter, mode: fields.mode };
  }

  async _getRelevantDocuments(query: string): Promise<Document[]> {
    const answer = await this.client.search(query, this.options);
    return answer.results.map(hitToDocument);
  }
}

/** The index's own model through POST /v1/embed, so that vectors match what the index holds. */
export class EdgeSearchEmbeddings extends Embeddings {
  readonly client: SearchClient;
  /** Texts per request (the deployment's MAX_EMBED_TEXTS; 32 by default). */
  readonly batchSize: number;

  constructor(fields: EmbeddingsParams & Connection & { batchSize?: number }) {
    super(fields);
    this.client = clientOf(fields);
    this.batchSize = fields.batchSize ?? 32;
  }

  async embedDocuments(texts: string[]): Promise<number[][]> {
    const out: number[][] = [];
    for (let i = 0; i < texts.length; i += this.batchSize) {
      out.push(...(await this.caller.call(() => this.client.embed(texts.slice(i, i + this.batchSize)))).vectors);
    }
    return out;
  }

  async embedQuery(text: string): Promise<number[]> {
    return (await this.embedDocuments([text]))[0];
  }
}

/** Why a deployed index takes no writes, and what to do instead. */
export const READ_ONLY_MESSAGE =
  "this vector store is read-only: the index is built offline from a corpus and published whole. " +
  "Add the documents to the corpus, then run `npm run build -- --corpus <file>` and `npm run deploy` (docs/api.md).";

/**
 * The deployed index as a LangChain vector store, for reading. Similarity
 * searches go to POST /v1/search by vector; the embeddings default to the
 * index's own model (EdgeSearchEmbeddings), which vectors must come from.
 */
export class EdgeSearchVectorStore extends VectorStore {
  declare FilterType: Filter;
  lc_namespace = ["edge_semantic_search", "vectorstores"];
  readonly client: SearchClient;
  private readonly options: SearchOptions;

  constructor(fields: Connection & { embeddings?: Embeddings; mode?: SearchOptions["mode"]; searchOptions?: SearchOptions }) {
    const client = clientOf(fields);
    super(fields.embeddings ?? new EdgeSearchEmbeddings({ client }), {});
    this.client = client;
    this.options = { ...(fields.searchOptions ?? {}), mode: fields.mode };
  }

  _vectorstoreType(): string {
    return "edge-semantic-search";
  }

  async similaritySearchVectorWithScore(query: number[], k: number, filter?: this["FilterType"]): Promise<[DocumentInterface, number][]> {
    const answer = await this.client.searchVector(query, { ...this.options, k, filter });
    return answer.results.map((hit) => [hitToDocument(hit), hit.score]);
  }

  async addVectors(_vectors: number[][], _documents: DocumentInterface[]): Promise<string[]> {
    throw new Error(READ_ONLY_MESSAGE);
  }

  async addDocuments(_documents: DocumentInterface[]): Promise<string[]> {
    throw new Error(READ_ONLY_MESSAGE);
  }

  async delete(): Promise<void> {
    throw new Error(READ_ONLY_MESSAGE);
  }
}
