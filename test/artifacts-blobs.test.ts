// Reading an artifacts directory's blobs (scripts/artifacts/dir.ts blobReader):
// a version's shards are tens of thousands of files, and a build extending it
// reads them all. Under a low open-file limit every one must still be read, and
// only an absent file may read as missing: an unreadable one throws, so a
// build never takes it for a base it cannot use.
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { blobReader, BLOB_READS_AT_ONCE } from "../scripts/artifacts/dir.ts";
import { tempDir } from "./helpers/build-fixtures.ts";

const run = promisify(execFile);
const BLOBS = 3_000;
/** Open files the child may hold: well under BLOBS, above BLOB_READS_AT_ONCE and Node's own. */
const FILE_LIMIT = 1024;

let t: Awaited<ReturnType<typeof tempDir>>;
const keys = Array.from({ length: BLOBS }, (_, i) => `blob/${i.toString(16).padStart(32, "0")}`);

beforeAll(async () => {
  t = await tempDir("esr-blobs-test-");
  await mkdir(path.join(t.dir, "blobs"));
  await Promise.all(keys.slice(0, 500).map((k, i) => writeFile(path.join(t.dir, "blobs", k.slice(5)), `value ${i}`)));
  for (let i = 500; i < BLOBS; i += 500) await Promise.all(keys.slice(i, i + 500).map((k, j) => writeFile(path.join(t.dir, "blobs", k.slice(5)), `value ${i + j}`)));
});

afterAll(async () => {
  await t?.cleanup();
});

it(`reads ${BLOBS} blobs under an open-file limit of ${FILE_LIMIT}, every one`, async () => {
  expect(BLOB_READS_AT_ONCE).toBeLessThan(FILE_LIMIT / 2);
  const script = path.join(t.dir, "read.mts");
  const dirModule = path.resolve("scripts/artifacts/dir.ts");
  await writeFile(script, `import { blobReader } from ${JSON.stringify(dirModule)};
const keys = Array.from({ length: ${BLOBS} }, (_, i) => "blob/" + i.toString(16).padStart(32, "0"));
const texts = await blobReader(${JSON.stringify(t.dir)})(keys);
process.stdout.write(JSON.stringify({ read: keys.filter((k, i) => texts.get(k) === "value " + i).length }));
`);
  const tsx = path.resolve("node_modules/.bin/tsx");
  const { stdout } = await run("sh", ["-c", `ulimit -n ${FILE_LIMIT} && exec ${JSON.stringify(tsx)} ${JSON.stringify(script)}`]);
  expect(JSON.parse(stdout)).toEqual({ read: BLOBS });
}, 60_000);

it("an absent blob reads as null; one it cannot read throws instead", async () => {
  const read = blobReader(t.dir);
  const absent = `blob/${"f".repeat(32)}`;
  expect((await read([keys[7], absent])).get(absent)).toBeNull();
  const unreadable = `blob/${"e".repeat(32)}`;
  await mkdir(path.join(t.dir, "blobs", unreadable.slice(5)));
  await expect(read([keys[7], unreadable])).rejects.toThrow(/EISDIR/);
});
