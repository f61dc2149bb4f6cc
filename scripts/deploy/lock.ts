// One deploy, rollback or garbage collection at a time per KV namespace: a lock
// value with an owner and an expiry. KV has no compare-and-set, so the lock is
// taken by writing it and reading it back after a settle delay (the last writer
// wins, the others see someone else's owner and wait or give up); an owner that
// crashes loses it at the expiry. CI's `concurrency` group serializes its own
// deploys; this lock also covers a laptop deploying beside CI. GC never deletes
// it (it is outside registry.ts GC_PREFIXES).
import os from "node:os";
import { randomUUID } from "node:crypto";
import type { KvWriter } from "./publish.ts";

export const LOCK_KEY = "deploy-lock";

export interface LockValue {
  owner: string;
  op: string;
  acquiredAt: string;
  expiresAt: string;
}

export class LockError extends Error {}

export interface LockOptions {
  /** How long the lock holds without its owner (a crashed deploy frees it then). */
  ttlMs?: number;
  /** How long to wait for another holder before giving up (0: fail at once). */
  waitMs?: number;
  pollMs?: number;
  /** Wait after writing before reading back (remote KV: a second or two for the write to settle). */
  settleMs?: number;
  log?: (s: string) => void;
}

export interface HeldLock {
  value: LockValue;
  /** Throws if the lock is no longer ours (expired and taken): call before any destructive step. */
  check(): Promise<void>;
  release(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function parseLock(raw: string | null): LockValue | null {
  if (raw === null) return null;
  try {
    const v = JSON.parse(raw) as LockValue;
    return typeof v?.owner === "string" && typeof v.expiresAt === "string" ? v : null;
  } catch {
    return null;
  }
}

export async function acquireLock(kv: KvWriter, op: string, o: LockOptions = {}): Promise<HeldLock> {
  const ttlMs = o.ttlMs ?? 60 * 60_000;
  const deadline = Date.now() + (o.waitMs ?? 0);
  const owner = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  let told = false;
  for (;;) {
    const held = parseLock(await kv.get(LOCK_KEY));
    if (held && held.owner !== owner && Date.parse(held.expiresAt) > Date.now()) {
      if (Date.now() >= deadline) throw new LockError(`${held.op} by ${held.owner} holds the deploy lock until ${held.expiresAt}; retry later (or --lock-wait SECONDS)`);
      if (!told) o.log?.(`waiting for the deploy lock (${held.op} by ${held.owner}, until ${held.expiresAt}) …`);
      told = true;
      await sleep(o.pollMs ?? 500);
      continue;
    }
    const now = Date.now();
    const value: LockValue = { owner, op, acquiredAt: new Date(now).toISOString(), expiresAt: new Date(now + ttlMs).toISOString() };
    await kv.put(LOCK_KEY, JSON.stringify(value));
    await sleep(o.settleMs ?? 50);
    if (parseLock(await kv.get(LOCK_KEY))?.owner !== owner) continue; // another writer won: wait for it
    const check = async () => {
      const now = parseLock(await kv.get(LOCK_KEY));
      if (now?.owner !== owner) throw new LockError(`lost the deploy lock (now ${now ? `${now.op} by ${now.owner}` : "free"}); stopping before any deletion`);
    };
    return {
      value,
      check,
      async release() {
        const now = parseLock(await kv.get(LOCK_KEY));
        if (now?.owner !== owner) return;
        if (kv.delete) await kv.delete([LOCK_KEY]);
        else await kv.put(LOCK_KEY, JSON.stringify({ ...value, expiresAt: new Date(0).toISOString() }));
      },
    };
  }
}

/** Runs `fn` holding the lock, released however `fn` ends. */
export async function withLock<T>(kv: KvWriter, op: string, o: LockOptions, fn: (lock: HeldLock) => Promise<T>): Promise<T> {
  const lock = await acquireLock(kv, op, o);
  try {
    return await fn(lock);
  } finally {
    await lock.release();
  }
}
