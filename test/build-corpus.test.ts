// Corpus readers (scripts/builder/corpus/read-corpus.ts): ids, texts, metadata and
// blank-row reporting for every format. Hand-written fixtures in test/fixtures/corpus.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { detectFormat, readCorpus, type CorpusItem, type CorpusReport, type ReadOptions } from "../scripts/builder/corpus/read-corpus.ts";
import { FIXTURES, tempDir } from "./helpers/build-fixtures.ts";

const fixture = (name: string) => path.join(FIXTURES, "corpus", name);

let scratch: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  scratch = await tempDir();
});
afterAll(async () => scratch.cleanup());

/** Writes `text` to the file `name` in this suite's scratch folder and returns its path. */
async function written(name: string, text: string): Promise<string> {
  const file = path.join(scratch.dir, name);
  await writeFile(file, text);
  return file;
}

async function read(file: string, options: ReadOptions = {}): Promise<{ items: CorpusItem[]; report: CorpusReport }> {
  const report = {} as CorpusReport;
  const items: CorpusItem[] = [];
  for await (const item of readCorpus(file, options, report)) items.push(item);
  return { items, report };
}

/** `text` written to `name` and read: its items as [id, text] pairs, and the ids of the blank rows it skipped. */
async function rowsOf(name: string, text: string): Promise<{ rows: string[][]; skippedBlank: string[] }> {
  const { items, report } = await read(await written(name, text));
  return { rows: items.map((i) => [i.id, i.text]), skippedBlank: report.skippedBlank };
}

/** Each format's committed fixture (test/fixtures/corpus), what reading it shows, its exact items and the report's fields. */
const FIXTURE_CASES: Array<{ file: string; does: string; items: CorpusItem[]; report: Partial<CorpusReport> }> = [
  {
    file: "lines.txt",
    does: "numbers lines from 0, trims texts, skips and reports blank lines without renumbering",
    items: [
      { id: "0", text: "first line", meta: {} },
      { id: "3", text: "fourth line, padded", meta: {} },
      { id: "4", text: "fifth\tline with a tab", meta: {} },
    ],
    report: { format: "txt", textColumn: null, metaColumns: [], items: 3, skippedBlank: ["1", "2"] },
  },
  {
    file: "headlines.csv",
    does: "uses the data-row number as id (first row after the header is 0), every other column as metadata",
    items: [
      { id: "0", text: "aba decides against community broadcasting licence", meta: { publish_date: "20030219", source: "abc" } },
      { id: "1", text: "council, state at odds over dam", meta: { publish_date: "20030219", source: "abc" } },
      { id: "2", text: 'mayor says "no comment" on rates', meta: { publish_date: "20030220", source: "local" } },
      { id: "3", text: "a headline\nover two lines", meta: { publish_date: "20030220", source: "abc" } },
      { id: "6", text: "last headline", meta: { publish_date: "20030222", source: "wire" } },
    ],
    report: { format: "csv", textColumn: "headline_text", metaColumns: ["publish_date", "source"], items: 5, skippedBlank: ["4", "5"] },
  },
  {
    file: "items.tsv",
    does: "splits on tabs, honours quotes, takes ids from the id column",
    items: [
      { id: "10", text: "bonjour le monde", meta: { lang: "fr" } },
      { id: "11", text: "tab\tinside quotes", meta: { lang: "en" } },
      { id: "13", text: "hello world", meta: { lang: "en" } },
    ],
    report: { format: "tsv", textColumn: "text", metaColumns: ["lang"], items: 3, skippedBlank: ["12"] },
  },
  {
    file: "items.jsonl",
    does: "takes `id` when present (numbers as strings), else the 0-based row; other fields are metadata",
    items: [
      { id: "x1", text: "jsonl first", meta: { score: 3, ok: true, tags: '["a","b"]', extra: null } },
      { id: "1", text: "no id here, row 1", meta: { source: "web" } },
      { id: "x9", text: "padded jsonl", meta: { nested: '{"k":1}' } },
    ],
    report: { format: "jsonl", textColumn: "text", items: 3, skippedBlank: ["7"], metaColumns: ["score", "ok", "tags", "extra", "source", "nested"] },
  },
];

describe("each format's committed fixture", () => {
  it.each(FIXTURE_CASES)("$file: $does", async ({ file, items, report }) => {
    const got = await read(fixture(file));
    expect(got.items).toEqual(items);
    expect(got.report).toMatchObject(report);
  });
});

describe(".txt", () => {
  it("handles CRLF line ends, a UTF-8 BOM, non-ASCII text and a missing final newline", async () => {
    expect(await rowsOf("crlf.txt", "\ufeffcafé au lait\r\n\r\nnaïve résumé 🚀\r\nno newline at the end")).toEqual({
      rows: [
        ["0", "café au lait"],
        ["2", "naïve résumé 🚀"],
        ["3", "no newline at the end"],
      ],
      skippedBlank: ["1"],
    });
  });
});

describe(".csv", () => {
  it("takes ids from an `id` column and excludes it from the metadata", async () => {
    const { items, report } = await read(fixture("with-id.csv"));
    // `headline` outranks `title` in the detection order (text, headline_text, headline, title).
    expect(report.textColumn).toBe("headline");
    expect(report.metaColumns).toEqual(["title", "body"]);
    expect(items).toEqual([
      { id: "a1", text: "Headline one", meta: { title: "Title one", body: "Body one" } },
      { id: "b2", text: "Headline two", meta: { title: "Title two", body: "" } },
    ]);
    expect(report.skippedBlank).toEqual(["c3"]);
  });

  it("detects each candidate text column in order, case-insensitively, and obeys --text-column", async () => {
    const cases: Array<[string, string]> = [
      ["title,headline,headline_text,text", "text"],
      ["title,headline,headline_text", "headline_text"],
      ["title,Headline", "Headline"],
      ["TITLE,x", "TITLE"],
    ];
    for (const [header, expected] of cases) {
      const cols = header.split(",");
      const { items, report } = await read(await written("detect.csv", `${header}\n${cols.map((c) => `v-${c}`).join(",")}\n`));
      expect(report.textColumn, header).toBe(expected);
      expect(items[0].text).toBe(`v-${expected}`);
      expect(Object.keys(items[0].meta)).toEqual(cols.filter((c) => c !== expected));
    }
    const { items, report } = await read(fixture("with-id.csv"), { textColumn: "body" });
    expect(report.textColumn).toBe("body");
    expect(report.metaColumns).toEqual(["title", "headline"]);
    expect(items.map((i) => i.id)).toEqual(["a1", "c3"]);
    expect(items[1]).toEqual({ id: "c3", text: "Body three", meta: { title: "Title three", headline: "" } });
    expect(report.skippedBlank).toEqual(["b2"]);
  });

  it("parses quoted fields with commas, doubled quotes, CRLF and newlines, and numbers rows after them correctly", async () => {
    const { items, report } = await read(
      await written("quoted.csv", '\ufefftext,note\r\n"one, two",plain\r\n"say ""hi""","a\r\nb\r\nc"\r\n"",empty quoted\r\nafter,"x"\r\n"""quoted start","end"""\r\n'),
    );
    expect(items).toEqual([
      { id: "0", text: "one, two", meta: { note: "plain" } },
      { id: "1", text: 'say "hi"', meta: { note: "a\nb\nc" } },
      { id: "3", text: "after", meta: { note: "x" } },
      { id: "4", text: '"quoted start', meta: { note: 'end"' } },
    ]);
    expect(report.skippedBlank).toEqual(["2"]);
  });

  it("treats an empty line of a one-column file as a blank row: reported, not renumbered", async () => {
    expect(await rowsOf("single.csv", "text\nalpha\n\nbeta\n")).toEqual({
      rows: [
        ["0", "alpha"],
        ["2", "beta"],
      ],
      skippedBlank: ["1"],
    });
  });
});

describe("format detection", () => {
  it("maps extensions case-insensitively", () => {
    const cases = [
      ["a.TXT", "txt"],
      ["dir.csv/a.text", "txt"],
      ["a.Csv", "csv"],
      ["a.tab", "tsv"],
      ["a.ndjson", "jsonl"],
    ];
    for (const [file, format] of cases) expect(detectFormat(file), file).toBe(format);
  });
});

describe("at scale", () => {
  it("streams a file larger than one read chunk with lines split across chunks", async () => {
    // 20,000 rows of ~60 bytes: many 64 KiB stream chunks, multi-byte characters across boundaries.
    const rows = Array.from({ length: 20_000 }, (_, i) => `${i},"row ${i} — ünïcödé, ""quoted"" ${"é".repeat(i % 17)}"`);
    const { items, report } = await read(await written("big.csv", ["id,text", ...rows].join("\n")));
    expect(items).toHaveLength(20_000);
    expect(report.items).toBe(20_000);
    for (const i of [0, 1, 4095, 12_345, 19_999]) expect(items[i]).toEqual({ id: String(i), text: `row ${i} — ünïcödé, "quoted" ${"é".repeat(i % 17)}`.trim(), meta: {} });
  });
});
