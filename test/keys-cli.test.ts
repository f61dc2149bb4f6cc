// npm run keys: a created key is shown once and stored only as its hash; the
// secret value it prints is what the Worker's key table reads; rotate and
// revoke take effect in that value; the IPv6 /64 and cost units of access.ts.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../scripts/commands/keys.ts";
import { findKey, keyTable, parseKeyRecords } from "../functions/keys.ts";
import { ipv6Prefix64, queryUnits, tokenUnits } from "../functions/access.ts";
import { cachedAnswer, searchCacheKey } from "../functions/search-cache.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "ess-keys-"));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

async function keys(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([...argv, "--file", path.join(dir, "keys.json")], { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join("\n"), err: err.join("\n"), value: out[out.length - 1] };
}

const bearer = (key: string) => new Request("https://x.invalid/search", { headers: { Authorization: `Bearer ${key}` } });

describe("npm run keys", () => {
  it("create, rotate, revoke: the secret value holds hashes only and the Worker finds exactly the live keys", async () => {
    const fleet = await keys("create", "--name", "fleet", "--scopes", "embed");
    expect(fleet.code, fleet.err).toBe(0);
    const key = /\n(ess_[A-Za-z0-9_-]{43})/.exec(fleet.out)![1];
    const file = await readFile(path.join(dir, "keys.json"), "utf8");
    expect(file).not.toContain(key);
    expect(parseKeyRecords(fleet.value)).toEqual([{ name: "fleet", sha256: expect.stringMatching(/^[0-9a-f]{64}$/), scopes: ["embed"], tier: "bulk" }]);
    expect((await findKey(bearer(key), { API_KEYS: fleet.value }))?.name).toBe("fleet");
    expect((await keys("create", "--name", "fleet", "--scopes", "search")).code).toBe(2);
    expect((await keys("create", "--name", "x", "--scopes", "delete")).code).toBe(2);

    const rotated = await keys("rotate", "--name", "fleet");
    const key2 = /\n(ess_[A-Za-z0-9_-]{43})/.exec(rotated.out)![1];
    expect(key2).not.toBe(key);
    expect(await findKey(bearer(key), { API_KEYS: rotated.value })).toBeNull();
    expect((await findKey(bearer(key2), { API_KEYS: rotated.value }))?.scopes.has("embed")).toBe(true);

    const revoked = await keys("revoke", "--name", "fleet");
    expect(JSON.parse(revoked.value)).toEqual([]);
    expect(await findKey(bearer(key2), { API_KEYS: revoked.value })).toBeNull();
    expect((await keys("list")).out).toBe("no keys");
  });

  it("EMBED_TOKEN is one more key with the embed scope", async () => {
    const table = await keyTable({ API_KEYS: "[]", EMBED_TOKEN: "legacy" });
    expect([...table.values()].map((k) => ({ name: k.name, scopes: [...k.scopes], tier: k.tier }))).toEqual([{ name: "embed-token", scopes: ["embed"], tier: "bulk" }]);
  });
});

describe("access", () => {
  it("keys an IPv6 client by its /64, however it is spelled", () => {
    expect(ipv6Prefix64("2001:db8:1:2::1")).toBe("2001:db8:1:2::/64");
    expect(ipv6Prefix64("2001:0DB8:0001:0002:ffff:0:0:9")).toBe("2001:db8:1:2::/64");
    expect(ipv6Prefix64("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(ipv6Prefix64("::1")).toBe("0:0:0:0::/64");
    expect(ipv6Prefix64("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
    expect(ipv6Prefix64("2001:db8:1:3::1")).not.toBe(ipv6Prefix64("2001:db8:1:2::1"));
  });

  it("charges units for what a query costs", () => {
    expect(queryUnits(false, 10)).toBe(1);
    expect(queryUnits(true, 10)).toBe(2);
    expect(queryUnits(true, 100)).toBe(3);
    expect(tokenUnits([Array(12).fill(1), Array(64).fill(1), Array(65).fill(1), Array(991).fill(1)])).toBe(0 + 0 + 1 + 15);
  });
});

describe("search cache", () => {
  it("names entries by a hash (no query text in the key) and answers a Cache API failure as a miss", async () => {
    const key = await searchCacheKey({ version: "v1", q: "a".repeat(5000), k: 10 });
    expect(key.url).toMatch(/^https:\/\/search-cache\.invalid\/search\/[0-9a-f]{64}$/);
    expect((await searchCacheKey({ version: "v1", q: "bush\uFB01re", k: 10 })).url).toBe((await searchCacheKey({ version: "v1", q: "bushfire", k: 10 })).url);
    for (const other of [{ version: "v2" }, { k: 11 }, { filter: '{"a":1}' }, { mode: "hybrid" }]) {
      expect((await searchCacheKey({ version: "v1", q: "bushfire", k: 10, ...other })).url).not.toBe((await searchCacheKey({ version: "v1", q: "bushfire", k: 10 })).url);
    }
    const g = globalThis as { caches?: unknown };
    const saved = g.caches;
    g.caches = { default: { match: () => Promise.reject(new Error("cache down")) } };
    try {
      expect(await cachedAnswer(key, "q", undefined, false)).toBeUndefined();
    } finally {
      g.caches = saved;
    }
  });
});
