// Hostile input against the Worker in workerd on the real index: fast-check
// properties (scripts/reliability/hostile.ts) — every answer a 2xx or a 4xx JSON
// error envelope with a code, never a 5xx, and /healthz healthy afterwards.
// npm run loadtest runs the same properties with more cases.
import { afterAll, beforeAll, expect, it } from "vitest";
import { runHostileProperties } from "../scripts/reliability/hostile.ts";
import { startTestWorker, type TestWorker } from "./helpers/workerd-fixture.ts";

let w: TestWorker;
beforeAll(async () => {
  w = await startTestWorker({ index: true });
});
afterAll(async () => w?.dispose());

it("random unicode, huge and deep bodies, wrong types, random filters, repeated parameters, long URLs and /embed floods never get a 5xx", async () => {
  const report = await runHostileProperties(w.fetch, 60, { legalFlood: 4 });
  console.log(`hostile input: ${report.cases} cases, statuses ${JSON.stringify(report.statuses)}`);
  expect(report.violations).toEqual([]);
  expect(report.healthyAfter).toBe(true);
  // 60 cases for each of 5 properties, 60 × 2 random filters, 7 long URLs, 15 deep bodies, 7 big bodies, 16 + 4 flood calls.
  expect(report.cases).toBe(469);
  expect(report.statuses["200"]).toBeGreaterThan(20);
  expect(Object.keys(report.statuses).every((s) => Number(s) < 500)).toBe(true);
});
