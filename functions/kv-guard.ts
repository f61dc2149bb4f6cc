// A KV read that rejects or throws (quota exceeded, a transient outage) is a
// 503 index_unavailable with Retry-After, never an uncoded error that would
// surface as a 500. Missing and corrupt values are told apart by the callers.
import { IndexError } from "../lib/index/reader.ts";

const guarded = new WeakMap<KVNamespace, KVNamespace>();

function unavailable(method: string, err: unknown): IndexError {
  if (err instanceof IndexError) return err;
  return new IndexError("index_unavailable", `KV ${method} failed: ${err instanceof Error ? err.message : String(err)}`);
}

/** The same namespace, with every method's failure turned into IndexError("index_unavailable"). */
export function guardKv(kv: KVNamespace): KVNamespace {
  const hit = guarded.get(kv);
  if (hit) return hit;
  const proxy = new Proxy(kv, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        try {
          // Reflect.apply, not value.apply: on an RPC stub `.apply` would be a remote method.
          const out = Reflect.apply(value as (...a: unknown[]) => unknown, target, args);
          // Bindings may answer with thenables that are not Promises (RPC); normalise.
          const thenable = typeof (out as PromiseLike<unknown> | undefined)?.then === "function";
          return thenable ? Promise.resolve(out).catch((e: unknown) => Promise.reject(unavailable(String(prop), e))) : out;
        } catch (e) {
          throw unavailable(String(prop), e);
        }
      };
    },
  });
  guarded.set(kv, proxy);
  return proxy;
}
