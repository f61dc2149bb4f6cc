// API keys: who a caller is when it sends `Authorization: Bearer <key>`.
//
// The Worker never holds a key itself, only its SHA-256: the secret API_KEYS is
// a JSON array of KeyRecord (scripts/keys.ts creates, rotates and revokes them
// and puts the secret with wrangler). Keys are 32 random bytes, so an unsalted
// hash is as strong as the key. EMBED_TOKEN, the older single /embed secret,
// is read as one more key with the `embed` scope.

/** What a key may do: search (/search, /fields, /examples), embed (/embed), admin (detailed /healthz). */
export type Scope = "search" | "embed" | "admin";
export const SCOPES: readonly Scope[] = ["search", "embed", "admin"];

/**
 * A key's limit: the [[ratelimits]] binding it is counted against, in its own
 * bucket (keyed by the key's name). `standard` is KEY_LIMITER, `bulk` (the
 * default for a key with the `embed` scope, e.g. an embedding fleet) is
 * KEY_BULK_LIMITER; docs/operations.md lists their sizes.
 */
export type KeyTier = "standard" | "bulk";

export interface KeyRecord {
  /** Unique; shows in logs and names the key's rate-limit bucket. */
  name: string;
  /** Lowercase hex SHA-256 of the whole key string. */
  sha256: string;
  scopes: Scope[];
  tier?: KeyTier;
}

export interface ApiKey {
  name: string;
  scopes: ReadonlySet<Scope>;
  tier: KeyTier;
}

export class KeyConfigError extends Error {}

const KEY_PREFIX = "ess_";

/** A new key: prefix + 32 random bytes, base64url. */
export function newKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return KEY_PREFIX + btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export async function hashKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export function defaultTier(scopes: readonly Scope[]): KeyTier {
  return scopes.includes("embed") ? "bulk" : "standard";
}

/** API_KEYS as the operator put it; any fault is a configuration error, never a silently smaller key list. */
export function parseKeyRecords(raw: string | undefined): KeyRecord[] {
  if (raw === undefined || raw.trim() === "") return [];
  let list: unknown;
  try {
    list = JSON.parse(raw);
  } catch {
    throw new KeyConfigError("API_KEYS is not JSON");
  }
  if (!Array.isArray(list)) throw new KeyConfigError("API_KEYS must be a JSON array");
  const names = new Set<string>();
  return list.map((entry, i) => {
    const e = entry as Partial<KeyRecord> | null;
    if (typeof e !== "object" || e === null) throw new KeyConfigError(`API_KEYS[${i}] is not an object`);
    if (typeof e.name !== "string" || !/^[A-Za-z0-9._-]{1,64}$/.test(e.name)) throw new KeyConfigError(`API_KEYS[${i}].name must be 1-64 of [A-Za-z0-9._-]`);
    if (names.has(e.name)) throw new KeyConfigError(`API_KEYS: the name ${e.name} is used twice`);
    names.add(e.name);
    if (typeof e.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(e.sha256)) throw new KeyConfigError(`API_KEYS[${i}].sha256 must be 64 lowercase hex digits`);
    if (!Array.isArray(e.scopes) || e.scopes.length === 0 || !e.scopes.every((s) => SCOPES.includes(s))) {
      throw new KeyConfigError(`API_KEYS[${i}].scopes must be a non-empty list of ${SCOPES.join(", ")}`);
    }
    if (e.tier !== undefined && e.tier !== "standard" && e.tier !== "bulk") throw new KeyConfigError(`API_KEYS[${i}].tier must be "standard" or "bulk"`);
    return { name: e.name, sha256: e.sha256, scopes: [...e.scopes], ...(e.tier ? { tier: e.tier } : {}) };
  });
}

/** The name EMBED_TOKEN's key goes by. */
export const EMBED_TOKEN_KEY_NAME = "embed-token";

export interface KeySource {
  API_KEYS?: string;
  EMBED_TOKEN?: string;
}

/** The last API_KEYS value found well-formed: the per-request configuration check parses it once, not on every request. */
let validRaw: string | undefined;

/** Throws KeyConfigError when API_KEYS is not a key list; a value already found valid is not parsed again. */
export function checkKeyRecords(raw: string | undefined): void {
  if (raw === validRaw) return;
  parseKeyRecords(raw);
  validRaw = raw;
}

/** Keys by hash, parsed once per distinct secret value (secrets are fixed per deployment). */
let parsed: { raw: string; token: string; byHash: Promise<Map<string, ApiKey>> } | undefined;

export function keyTable(env: KeySource): Promise<Map<string, ApiKey>> {
  const raw = env.API_KEYS ?? "";
  const token = env.EMBED_TOKEN ?? "";
  if (parsed?.raw === raw && parsed.token === token) return parsed.byHash;
  const records = parseKeyRecords(raw);
  const byHash = (async () => {
    const all = [...records];
    if (token !== "") all.push({ name: EMBED_TOKEN_KEY_NAME, sha256: await hashKey(token), scopes: ["embed"] });
    return new Map(all.map((r) => [r.sha256, { name: r.name, scopes: new Set(r.scopes), tier: r.tier ?? defaultTier(r.scopes) }]));
  })();
  parsed = { raw, token, byHash };
  return byHash;
}

/** The bearer key of a request: undefined without an Authorization header, null when the header is not `Bearer <key>`. */
export function bearerKey(request: Request): string | undefined | null {
  const header = request.headers.get("Authorization");
  if (header === null) return undefined;
  const m = /^Bearer\s+(\S{1,512})\s*$/i.exec(header);
  return m ? m[1] : null;
}

/** The key a request presents, or undefined when it presents none. Lookup is by hash, so no secret is compared byte by byte. */
export async function findKey(request: Request, env: KeySource): Promise<ApiKey | undefined | null> {
  const key = bearerKey(request);
  if (key === undefined) return undefined;
  if (key === null) return null;
  return (await keyTable(env)).get(await hashKey(key)) ?? null;
}
