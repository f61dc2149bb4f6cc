// Reads a corpus file into items, streaming, so a 1.2M-line corpus never needs
// to be decoded as one string. Every problem names the file and the line: users
// fix corpora by hand and need to find the row. The CSV/TSV records are parsed
// here rather than by csv-parse: this reader is faster on headline files
// (docs/decisions.md#build-kernels-and-readers), and it keeps its stricter
// UTF-8 and quote errors.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import path from "node:path";

export type MetaValue = string | number | boolean | null;
export interface CorpusItem {
  id: string;
  text: string;
  meta: Record<string, MetaValue>;
}
export type CorpusFormat = "txt" | "csv" | "tsv" | "jsonl";

export interface ReadOptions {
  textColumn?: string;
  format?: CorpusFormat;
}

export interface CorpusReport {
  file: string;
  format: CorpusFormat;
  textColumn: string | null;
  metaColumns: string[];
  items: number;
  /** Ids of rows skipped because their text was blank. */
  skippedBlank: string[];
}

export class CorpusError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | null,
    message: string,
  ) {
    super(line === null ? `${file}: ${message}` : `${file}:${line}: ${message}`);
    this.name = "CorpusError";
  }
}

export const TEXT_COLUMN_CANDIDATES = ["text", "headline_text", "headline", "title"];

export function detectFormat(file: string): CorpusFormat {
  const ext = path.extname(file).toLowerCase();
  switch (ext) {
    case ".txt":
    case ".text":
      return "txt";
    case ".csv":
      return "csv";
    case ".tsv":
    case ".tab":
      return "tsv";
    case ".jsonl":
    case ".ndjson":
      return "jsonl";
    default:
      throw new CorpusError(file, null, `unknown corpus format "${ext || "(no extension)"}": use .txt, .csv, .tsv or .jsonl`);
  }
}

/** Yields physical lines (1-based numbers) decoded strictly as UTF-8. */
async function* lines(file: string): AsyncGenerator<{ line: number; text: string }> {
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  let pending: Buffer[] = [];
  let lineNo = 0;
  const emit = (bytes: Buffer) => {
    lineNo++;
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === 0x0d) end--;
    try {
      let text = decoder.decode(bytes.subarray(0, end));
      if (lineNo === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      return { line: lineNo, text };
    } catch {
      throw new CorpusError(file, lineNo, "invalid UTF-8");
    }
  };
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    let start = 0;
    for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, start)) {
      pending.push(chunk.subarray(start, i));
      yield emit(pending.length === 1 ? pending[0] : Buffer.concat(pending));
      pending = [];
      start = i + 1;
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  }
  if (pending.length) {
    const last = Buffer.concat(pending);
    if (last.length) yield emit(last);
  }
}

/**
 * RFC 4180 records: quoted fields may hold the delimiter, doubled quotes and
 * newlines; the record's line is where it starts.
 */
async function* records(file: string, delimiter: string): AsyncGenerator<{ line: number; fields: string[] }> {
  let fields: string[] = [];
  let field = "";
  let inQuotes = false;
  let startLine = 0;
  for await (const { line, text } of lines(file)) {
    if (!inQuotes) {
      startLine = line;
      fields = [];
      field = "";
      if (text.length === 0) {
        yield { line, fields: [] };
        continue;
      }
    } else field += "\n";
    let i = 0;
    let fieldStart = !inQuotes && true;
    while (i < text.length) {
      const c = text[i];
      if (inQuotes) {
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          inQuotes = false;
          i++;
          if (i < text.length && text[i] !== delimiter) {
            throw new CorpusError(file, line, `malformed row: text after a closing quote in field ${fields.length + 1}`);
          }
          continue;
        }
        field += c;
        i++;
      } else if (c === delimiter) {
        fields.push(field);
        field = "";
        fieldStart = true;
        i++;
      } else if (c === '"' && fieldStart && field.length === 0) {
        inQuotes = true;
        fieldStart = false;
        i++;
      } else {
        field += c;
        fieldStart = false;
        i++;
      }
    }
    if (!inQuotes) {
      fields.push(field);
      yield { line: startLine, fields };
    }
  }
  if (inQuotes) throw new CorpusError(file, startLine, "malformed row: unterminated quoted field");
}

function chooseTextColumn(file: string, header: string[], wanted: string | undefined): string {
  if (wanted !== undefined) {
    if (!header.includes(wanted)) {
      throw new CorpusError(file, 1, `unknown column "${wanted}"; the header has: ${header.join(", ")}`);
    }
    return wanted;
  }
  const lower = header.map((h) => h.toLowerCase());
  for (const c of TEXT_COLUMN_CANDIDATES) {
    const i = lower.indexOf(c);
    if (i !== -1) return header[i];
  }
  throw new CorpusError(
    file,
    1,
    `no text column found (looked for ${TEXT_COLUMN_CANDIDATES.join(", ")}); name one with --text-column. The header has: ${header.join(", ")}`,
  );
}

/** An item and the line it starts on (for duplicate-id errors). */
interface Row {
  item: CorpusItem;
  line: number;
}

/**
 * Streams the items of a corpus; `report` is filled in as it goes and final at
 * the end. Rows with blank text are counted and skipped, never renumbered.
 */
export async function* readCorpus(file: string, options: ReadOptions = {}, report?: CorpusReport): AsyncGenerator<CorpusItem> {
  const format = await checkCorpusFile(file, options);
  const rep: CorpusReport = report ?? ({} as CorpusReport);
  Object.assign(rep, { file, format, textColumn: null, metaColumns: [], items: 0, skippedBlank: [] });
  const accept = acceptor(file, rep);
  for await (const { item, line } of rowsOf(file, format, options, rep)) {
    if (accept(item, line)) yield item;
  }
  if (rep.items === 0) throw new CorpusError(file, null, "empty corpus: no items with text");
}

/** The file exists, is a regular file, and its format takes the options given; returns the format. */
async function checkCorpusFile(file: string, options: ReadOptions): Promise<CorpusFormat> {
  let info;
  try {
    info = await stat(file);
  } catch {
    throw new CorpusError(file, null, "file not found");
  }
  if (!info.isFile()) throw new CorpusError(file, null, "not a regular file");
  const format = options.format ?? detectFormat(file);
  if ((format === "txt" || format === "jsonl") && options.textColumn !== undefined) {
    throw new CorpusError(file, null, "--text-column applies to .csv/.tsv only");
  }
  return format;
}

function rowsOf(file: string, format: CorpusFormat, options: ReadOptions, rep: CorpusReport): AsyncGenerator<Row> {
  switch (format) {
    case "txt":
      return txtRows(file);
    case "jsonl":
      return jsonlRows(file, rep);
    case "csv":
      return delimitedRows(file, ",", options, rep);
    case "tsv":
      return delimitedRows(file, "\t", options, rep);
  }
}

/** Ids must be unique; blank texts are reported and skipped. True if the item counts. */
function acceptor(file: string, rep: CorpusReport): (item: CorpusItem, line: number) => boolean {
  const seen = new Set<string>();
  return (item, line) => {
    if (seen.has(item.id)) throw new CorpusError(file, line, `duplicate id "${item.id}"`);
    seen.add(item.id);
    if (item.text.trim().length === 0) {
      rep.skippedBlank.push(item.id);
      return false;
    }
    rep.items++;
    return true;
  };
}

/** One item a line; the id is the 0-based line number. */
async function* txtRows(file: string): AsyncGenerator<Row> {
  let row = 0;
  for await (const { line, text } of lines(file)) yield { item: { id: String(row++), text: text.trim(), meta: {} }, line };
}

/**
 * One string per distinct metadata value, while a column has few of them: a
 * column of dates or categories repeats a handful of values across millions of
 * rows, and a build holds every item until it is done.
 */
class Interner {
  private readonly seen = new Map<string, string>();
  of(value: string): string {
    const hit = this.seen.get(value);
    if (hit !== undefined) return hit;
    if (this.seen.size < INTERN_MAX_VALUES) this.seen.set(value, value);
    return value;
  }
}
/** Distinct values interned per column; a column with more (ids, free text) is stored as read. */
const INTERN_MAX_VALUES = 4096;

/** One JSON object a line: `text`, optional `id`, other fields as metadata. Blank lines are not rows. */
async function* jsonlRows(file: string, rep: CorpusReport): AsyncGenerator<Row> {
  let row = 0;
  const interned = new Map<string, Interner>();
  for await (const { line, text } of lines(file)) {
    if (text.trim().length === 0) continue;
    const { text: t, id, rest } = jsonlObject(file, line, text);
    const meta: Record<string, MetaValue> = {};
    for (const [k, v] of Object.entries(rest)) {
      if (typeof v === "string") meta[k] = (interned.get(k) ?? interned.set(k, new Interner()).get(k)!).of(v);
      else if (v === null || typeof v === "number" || typeof v === "boolean") meta[k] = v;
      else meta[k] = JSON.stringify(v);
      if (!rep.metaColumns.includes(k)) rep.metaColumns.push(k);
    }
    yield { item: { id: id === undefined ? String(row) : String(id), text: t.trim(), meta }, line };
    row++;
  }
  rep.textColumn = "text";
}

function jsonlObject(file: string, line: number, text: string): { text: string; id: string | number | undefined; rest: Record<string, unknown> } {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new CorpusError(file, line, `malformed row: invalid JSON (${(e as Error).message})`);
  }
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
    throw new CorpusError(file, line, "malformed row: each line must be a JSON object");
  }
  const { text: t, id, ...rest } = obj as Record<string, unknown>;
  if (typeof t !== "string") throw new CorpusError(file, line, 'malformed row: "text" must be a string');
  if (id !== undefined && typeof id !== "string" && typeof id !== "number") {
    throw new CorpusError(file, line, 'malformed row: "id" must be a string or a number');
  }
  return { text: t, id, rest };
}

/** Which columns hold the text and the id, from the header row. */
interface Columns {
  header: string[];
  textIdx: number;
  idIdx: number;
}

function readHeader(file: string, line: number, fields: string[], options: ReadOptions, rep: CorpusReport): Columns {
  if (fields.length === 0) throw new CorpusError(file, line, "the first line must be a header");
  const header = fields.map((f) => f.trim());
  const dup = header.find((h, i) => header.indexOf(h) !== i);
  if (dup !== undefined) throw new CorpusError(file, line, `duplicate column "${dup}" in the header`);
  const textColumn = chooseTextColumn(file, header, options.textColumn);
  const textIdx = header.indexOf(textColumn);
  const idIdx = header.indexOf("id");
  rep.textColumn = textColumn;
  rep.metaColumns = header.filter((_, i) => i !== textIdx && i !== idIdx);
  return { header, textIdx, idIdx };
}

/** A header, then one item a record; the id is the `id` column, else the 0-based data-row number. */
async function* delimitedRows(file: string, delimiter: string, options: ReadOptions, rep: CorpusReport): AsyncGenerator<Row> {
  let cols: Columns | undefined;
  let row = 0;
  let interned: Interner[] = [];
  for await (const { line, fields } of records(file, delimiter)) {
    if (!cols) {
      cols = readHeader(file, line, fields, options, rep);
      interned = cols.header.map(() => new Interner());
      continue;
    }
    const { header, textIdx, idIdx } = cols;
    // An empty line: with one column it is a row whose text is blank (reported,
    // and it keeps its number); with more it is a stray line between rows.
    if (fields.length === 0) {
      if (header.length !== 1) continue;
      fields.push("");
    }
    if (fields.length !== header.length) {
      throw new CorpusError(file, line, `malformed row: ${fields.length} fields, the header has ${header.length}`);
    }
    const meta: Record<string, MetaValue> = {};
    header.forEach((h, i) => {
      if (i !== textIdx && i !== idIdx) meta[h] = interned[i].of(fields[i]);
    });
    const id = idIdx >= 0 ? fields[idIdx].trim() : String(row);
    if (idIdx >= 0 && id.length === 0) throw new CorpusError(file, line, "empty id");
    yield { item: { id, text: fields[textIdx].trim(), meta }, line };
    row++;
  }
  if (!cols) throw new CorpusError(file, null, "empty corpus: no header and no rows");
}
