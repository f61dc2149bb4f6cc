// Every way a build (or search) can be refused: a clear message naming the file
// (and line), a non-zero exit, and no embedding work before the refusal.
// Reader errors are checked directly (fast); a representative subset runs the
// real CLIs in child processes (each costs a Node + tsx start, ~1–2 s).
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { CorpusError, readCorpus, type ReadOptions } from "../scripts/builder/corpus/read-corpus.ts";
import { runBuild } from "../scripts/builder/build.ts";
import { parseIntFlag, UsageError } from "../scripts/common/cli.ts";
import { FIXTURES, runCli, tempDir, type CliResult } from "./helpers/build-fixtures.ts";

// Loading the model is the first step of embedding: make it observable (and
// fatal) so the tests below can prove refusals come before it.
const modelLoads = vi.hoisted(() => ({ count: 0 }));
vi.mock("../scripts/builder/embedding/node-model.ts", async (importOriginal) => {
  const original = await importOriginal<typeof import("../scripts/builder/embedding/node-model.ts")>();
  return {
    ...original,
    prepareModel: () => {
      modelLoads.count++;
      return Promise.reject(new Error("test sentinel: the model was loaded"));
    },
  };
});

let t: Awaited<ReturnType<typeof tempDir>>;
const files: Record<string, string> = {};

// name → [file name, contents]
const BAD: Record<string, [string, string | Buffer]> = {
  emptyTxt: ["empty.txt", ""],
  blankTxt: ["blank.txt", "\n   \n\t\n"],
  emptyCsv: ["empty.csv", ""],
  headerOnly: ["header-only.csv", "id,text\n"],
  allBlankCsv: ["all-blank.csv", "id,text\n1,\n2,  \n"],
  noTextColumn: ["no-text.csv", "a,b\n1,2\n"],
  invalidUtf8Txt: ["bad-utf8.txt", Buffer.concat([Buffer.from("fine\nstill fine\n"), Buffer.from([0x62, 0xff, 0xfe, 0x0a]), Buffer.from("after\n")])],
  invalidUtf8Csv: ["bad-utf8.csv", Buffer.concat([Buffer.from('text,x\n"multi\nline ok",1\n"multi\n'), Buffer.from([0xc3, 0x28]), Buffer.from('",2\n')])],
  tooManyFields: ["too-many.csv", "text,x\na,1\nb,2,3\n"],
  tooFewFields: ["too-few.tsv", "text\tx\na\t1\nb\n"],
  unterminated: ["unterminated.csv", 'text,x\na,1\n"never closed,2\nb,3\nc,4\n'],
  textAfterQuote: ["after-quote.csv", 'text,x\na,1\n"quoted"tail,2\n'],
  badJson: ["bad.jsonl", '{"text": "ok"}\n\n{"text": "no end"\n'],
  jsonArray: ["array.jsonl", '{"text": "ok"}\n["text"]\n'],
  jsonString: ["string.jsonl", '"just a string"\n'],
  jsonNull: ["null.jsonl", '{"text": "ok"}\n{"text": "ok 2"}\nnull\n'],
  nonStringText: ["number-text.jsonl", '{"text": "ok"}\n{"text": 42}\n'],
  missingText: ["missing-text.jsonl", '{"body": "no text field"}\n'],
  objectId: ["object-id.jsonl", '{"id": [1], "text": "x"}\n'],
  dupIdCsv: ["dup-id.csv", "id,text\n1,a\n2,b\n3,c\n2,d\n"],
  dupIdJsonl: ["dup-id.jsonl", '{"id": 5, "text": "a"}\n{"id": "5", "text": "b"}\n'],
  dupIdImplicit: ["dup-implicit.jsonl", '{"text": "row 0"}\n{"id": "0", "text": "explicit 0"}\n'],
  dupBlankId: ["dup-blank-id.csv", "id,text\n1,\n1,again\n"],
  emptyId: ["empty-id.csv", "id,text\n1,a\n ,b\n"],
  dupColumn: ["dup-col.csv", "text,x,x\na,1,2\n"],
  unknownExt: ["corpus.md", "# not a corpus\n"],
  noExt: ["corpus", "text\n"],
};

async function readAll(file: string, options: ReadOptions = {}): Promise<void> {
  for await (const _ of readCorpus(file, options)) {
    // drain
  }
}

async function corpusError(file: string, options: ReadOptions = {}): Promise<CorpusError> {
  const err = await readAll(file, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `${path.basename(file)} must be refused`).toBeInstanceOf(CorpusError);
  return err as CorpusError;
}

beforeAll(async () => {
  t = await tempDir();
  for (const [name, [file, body]] of Object.entries(BAD)) {
    files[name] = path.join(t.dir, file);
    await writeFile(files[name], body);
  }
  // 5,000 good rows, then one malformed row at the very end.
  const rows = Array.from({ length: 5000 }, (_, i) => `${i},headline number ${i}`);
  files.lateMalformed = path.join(t.dir, "late.csv");
  await writeFile(files.lateMalformed, ["id,text", ...rows, '5000,"unterminated'].join("\n") + "\n");
  await mkdir((files.directory = path.join(t.dir, "dir.csv")));
});
afterAll(async () => t?.cleanup());

describe("corpus reader errors name the file and line", () => {
  const cases: Array<[string, number | null, RegExp]> = [
    ["emptyTxt", null, /empty corpus/],
    ["blankTxt", null, /empty corpus: no items with text/],
    ["emptyCsv", null, /empty corpus/],
    ["headerOnly", null, /empty corpus/],
    ["allBlankCsv", null, /empty corpus: no items with text/],
    ["noTextColumn", 1, /no text column found .*--text-column.*The header has: a, b/],
    ["invalidUtf8Txt", 3, /invalid UTF-8/],
    ["invalidUtf8Csv", 5, /invalid UTF-8/],
    ["tooManyFields", 3, /malformed row: 3 fields, the header has 2/],
    ["tooFewFields", 3, /malformed row: 1 fields, the header has 2/],
    ["unterminated", 3, /malformed row: unterminated quoted field/],
    ["textAfterQuote", 3, /malformed row: text after a closing quote/],
    ["badJson", 3, /malformed row: invalid JSON/],
    ["jsonArray", 2, /must be a JSON object/],
    ["jsonString", 1, /must be a JSON object/],
    ["jsonNull", 3, /must be a JSON object/],
    ["nonStringText", 2, /"text" must be a string/],
    ["missingText", 1, /"text" must be a string/],
    ["objectId", 1, /"id" must be a string or a number/],
    ["dupIdCsv", 5, /duplicate id "2"/],
    ["dupIdJsonl", 2, /duplicate id "5"/],
    ["dupIdImplicit", 2, /duplicate id "0"/],
    ["dupBlankId", 3, /duplicate id "1"/],
    ["emptyId", 3, /empty id/],
    ["dupColumn", 1, /duplicate column "x"/],
    ["unknownExt", null, /unknown corpus format "\.md"/],
    ["noExt", null, /unknown corpus format "\(no extension\)"/],
    ["lateMalformed", 5002, /unterminated quoted field/],
    ["directory", null, /not a regular file/],
  ];
  for (const [name, line, pattern] of cases) {
    it(`${name}: ${pattern.source}${line ? ` at line ${line}` : ""}`, async () => {
      const err = await corpusError(files[name]);
      expect(err.file).toBe(files[name]);
      expect(err.line).toBe(line);
      expect(err.message.startsWith(line === null ? `${files[name]}: ` : `${files[name]}:${line}: `)).toBe(true);
      expect(err.message).toMatch(pattern);
    });
  }

  it("missing file", async () => {
    const missing = path.join(t.dir, "nope.csv");
    const err = await corpusError(missing);
    expect(err.message).toBe(`${missing}: file not found`);
  });

  it("unknown --text-column names the header; --text-column on .txt/.jsonl is refused", async () => {
    const csv = path.join(FIXTURES, "corpus", "headlines.csv");
    const err = await corpusError(csv, { textColumn: "body" });
    expect(err.message).toBe(`${csv}:1: unknown column "body"; the header has: publish_date, headline_text, source`);
    for (const f of ["lines.txt", "items.jsonl"]) {
      const e = await corpusError(path.join(FIXTURES, "corpus", f), { textColumn: "text" });
      expect(e.message).toMatch(/--text-column applies to \.csv\/\.tsv only/);
    }
  });
});

describe("flag parsing", () => {
  it("accepts integers at or above the minimum and refuses the rest, naming the flag", () => {
    expect(parseIntFlag("k", undefined)).toBeUndefined();
    expect(parseIntFlag("k", "1")).toBe(1);
    expect(parseIntFlag("leaf-size", "2", 2)).toBe(2);
    for (const bad of ["0", "-3", "1.5", "abc", "", "1e400"]) {
      expect(() => parseIntFlag("k", bad), bad).toThrow(UsageError);
      expect(() => parseIntFlag("k", bad), bad).toThrow(/--k must be an integer ≥ 1/);
    }
    expect(() => parseIntFlag("leaf-size", "1", 2)).toThrow(/--leaf-size must be an integer ≥ 2, got "1"/);
  });
});

describe("runBuild refuses bad corpora before any embedding work", () => {
  it("loads the model for a good corpus (the sentinel works)", async () => {
    const before = modelLoads.count;
    const out = path.join(t.dir, "out-good");
    await expect(runBuild({ corpus: path.join(FIXTURES, "corpus", "lines.txt"), out, cacheDir: null, quiet: true })).rejects.toThrow(/test sentinel/);
    expect(modelLoads.count).toBe(before + 1);
  });

  it("refuses an --out that is an existing file before loading the model", async () => {
    const before = modelLoads.count;
    const out = path.join(t.dir, "out-is-a-file");
    await writeFile(out, "not a directory");
    const err = await runBuild({ corpus: path.join(FIXTURES, "corpus", "lines.txt"), out, cacheDir: null, quiet: true }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).not.toMatch(/test sentinel/);
    expect((err as Error).message).toContain(out);
    expect(modelLoads.count).toBe(before);
  });

  it.each(["lateMalformed", "dupIdCsv", "invalidUtf8Txt", "emptyTxt", "unknownExt"])("%s: CorpusError, no model load, nothing written", async (name) => {
    const before = modelLoads.count;
    const out = path.join(t.dir, `out-${name}`);
    const cacheDir = path.join(t.dir, `cache-${name}`);
    await expect(runBuild({ corpus: files[name], out, cacheDir, quiet: true })).rejects.toThrow(CorpusError);
    expect(modelLoads.count).toBe(before);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(cacheDir)).toBe(false);
  });
});

describe("CLIs exit non-zero with the message on stderr", () => {
  const expectRefused = (r: CliResult, pattern: RegExp) => {
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^error: /);
    expect(r.stderr).toMatch(pattern);
    expect(r.stdout).toBe("");
    // Refused before reading the model or embedding anything: the build logs
    // "corpus …: N items" and "embedding …" only once the corpus is read.
    expect(r.stderr).not.toMatch(/^embedding \d|: \d+ items \(/m);
  };

  // Two at a time: each is a Node process with tsx, and the machine is shared.
  async function runAll(runs: Array<[string, "build" | "search", string[], () => RegExp]>): Promise<void> {
    const results: Array<[string, CliResult, RegExp]> = [];
    for (let i = 0; i < runs.length; i += 2) {
      const batch = runs.slice(i, i + 2);
      const done = await Promise.all(batch.map(([, script, args]) => runCli(script, args, 60_000)));
      batch.forEach(([name, , , pattern], j) => results.push([name, done[j], pattern()]));
    }
    for (const [name, r, pattern] of results) {
      try {
        expectRefused(r, pattern);
      } catch (e) {
        throw new Error(`${name}: ${(e as Error).message}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
      }
    }
  }

  it("build: corpus problems name the file (and line)", async () => {
    const csv = path.join(FIXTURES, "corpus", "headlines.csv");
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    await runAll([
      ["missing file", "build", ["--corpus", path.join(t.dir, "missing.csv")], () => new RegExp(`${esc(path.join(t.dir, "missing.csv"))}: file not found`)],
      ["unknown column", "build", ["--corpus", csv, "--text-column", "body"], () => new RegExp(`${esc(csv)}:1: unknown column "body"`)],
      ["invalid UTF-8", "build", ["--corpus", files.invalidUtf8Txt], () => new RegExp(`${esc(files.invalidUtf8Txt)}:3: invalid UTF-8`)],
      ["late malformed row", "build", ["--corpus", files.lateMalformed], () => new RegExp(`${esc(files.lateMalformed)}:5002: malformed row`)],
      ["duplicate id", "build", ["--corpus", files.dupIdCsv], () => new RegExp(`${esc(files.dupIdCsv)}:5: duplicate id "2"`)],
      ["unknown extension", "build", ["--corpus", files.unknownExt], () => new RegExp(`${esc(files.unknownExt)}: unknown corpus format`)],
    ]);
  });

  it("build and search: usage and flag errors", async () => {
    const txt = path.join(FIXTURES, "corpus", "lines.txt");
    const noIndex = path.join(t.dir, "no-index");
    await runAll([
      ["no --corpus", "build", [], () => /--corpus FILE is required/],
      ["--threads 0", "build", ["--corpus", txt, "--threads", "0"], () => /--threads must be an integer ≥ 1, got "0"/],
      ["--pq-m 7", "build", ["--corpus", txt, "--pq-m", "7"], () => /--pq-m must divide 512/],
      ["--rerank-margin=-1", "build", ["--corpus", txt, "--rerank-margin=-1"], () => /--rerank-margin must be a number ≥ 0, got "-1"/],
      ["--probe-margin inf", "build", ["--corpus", txt, "--probe-margin", "Infinity"], () => /--probe-margin must be a number ≥ 0, got "Infinity"/],
      ["unknown flag", "build", ["--corpus", txt, "--bogus"], () => /Unknown option '--bogus'/],
      ["search --k 0", "search", ["--artifacts", noIndex, "--k", "0", "q"], () => /--k must be an integer ≥ 1, got "0"/],
      ["search --nprobe 0", "search", ["--artifacts", noIndex, "--nprobe", "0", "q"], () => /--nprobe must be an integer ≥ 1/],
      ["search --rerank-margin x", "search", ["--artifacts", noIndex, "--rerank-margin", "x", "q"], () => /--rerank-margin must be a number ≥ 0, got "x"/],
      ["search --probe-margin ''", "search", ["--artifacts", noIndex, "--probe-margin", "", "q"], () => /--probe-margin must be a number ≥ 0, got ""/],
      ["search missing index", "search", ["--artifacts", noIndex, "q"], () => new RegExp(`no index in ${noIndex.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`)],
    ]);
  });
});
