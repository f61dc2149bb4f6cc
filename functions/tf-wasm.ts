// tfjs-backend-wasm (SIMD build) inside workerd. The stock backend init fetches
// the .wasm bytes and compiles them, which workerd forbids ("Wasm code
// generation disallowed by embedder") and after which setBackend never settles.
// Instead the binary is imported as a module wrangler precompiles at deploy time
// (CompiledWasm rule), and the `wasm` backend is registered anew with a factory
// that only *instantiates* it. Kernels are registered per backend name by the
// package import, so they survive the re-registration.
import * as tf from "@tensorflow/tfjs-core";
import { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import wasmFactory from "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm.js";
import simdModule from "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-simd.wasm";

// Above the package's own priority (2) so nothing ever picks the fetching factory.
const PRIORITY = 10;

/** WebAssembly pages are 64 KiB. */
const WASM_PAGE_BYTES = 65536;

/**
 * Emscripten grows its heap by 20 % over what malloc asked for (then 10 %, 5 %)
 * to make later growth rarer. WebAssembly memory never shrinks, so here that
 * slack is the isolate's for good: a heap needing a few more KiB gained a fifth
 * of its size (docs/decisions.md#wasm-heap-growth). The heap is grown to
 * exactly the pages malloc asked for instead: the
 * resize import records the size wanted, and the memory's grow (which the glue
 * calls next) is capped at the pages that size needs. Growth in place costs no
 * copy, so growing more often is cheap.
 */
function growOnlyAsNeeded(imports: WebAssembly.Imports, instantiate: (imports: WebAssembly.Imports) => WebAssembly.Instance): WebAssembly.Instance {
  const env = imports.env as Record<string, unknown>;
  const resize = env.emscripten_resize_heap as ((bytes: number) => number) | undefined;
  if (typeof resize !== "function") return instantiate(imports);
  let wanted = 0;
  env.emscripten_resize_heap = (bytes: number) => {
    wanted = bytes >>> 0;
    try {
      return resize(bytes);
    } finally {
      wanted = 0;
    }
  };
  const instance = instantiate(imports);
  const memory = instance.exports.memory as WebAssembly.Memory;
  const grow = memory.grow.bind(memory);
  Object.defineProperty(memory, "grow", {
    value: (pages: number) => grow(wanted === 0 ? pages : Math.min(pages, Math.max(0, Math.ceil((wanted - memory.buffer.byteLength) / WASM_PAGE_BYTES)))),
  });
  return instance;
}

type Cwrap = (name: string, ret: string | null, args: string[]) => (...a: number[]) => unknown;

async function createBackend(): Promise<BackendWasm> {
  const module = await wasmFactory({
    instantiateWasm(imports: WebAssembly.Imports, receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void) {
      // Instantiating a precompiled Module is allowed; compiling bytes is not.
      const instance = growOnlyAsNeeded(imports, (i) => new WebAssembly.Instance(simdModule, i));
      receive(instance, simdModule);
      return instance.exports;
    },
    // Emscripten would otherwise print via console and keep going; surface it.
    onAbort(reason: unknown) {
      console.error("tfjs wasm aborted", reason);
    },
  });
  wasmModule = module;
  const cwrap = module.cwrap as Cwrap;
  // The same bridge the package's own init() builds (dist/backend_wasm.js).
  module.tfjs = {
    init: cwrap("init", null, []),
    initWithThreadsCount: cwrap("init_with_threads_count", null, ["number"]),
    getThreadsCount: cwrap("get_threads_count", "number", []),
    registerTensor: cwrap("register_tensor", null, ["number", "number", "number"]),
    disposeData: cwrap("dispose_data", null, ["number"]),
    dispose: cwrap("dispose", null, []),
  };
  return new BackendWasm(module as unknown as ConstructorParameters<typeof BackendWasm>[0]);
}

let ready: Promise<typeof tf> | undefined;
let wasmModule: Record<string, unknown> | undefined;

/** Size of the backend's WebAssembly memory (weights and activations live there); 0 before init. */
export function wasmMemoryBytes(): number {
  const heap = wasmModule?.HEAPU8 as Uint8Array | undefined;
  return heap?.buffer.byteLength ?? 0;
}

/** Bytes tfjs accounts to live tensors; 0 before init. */
export function tensorBytes(): number {
  return wasmModule ? tf.memory().numBytes : 0;
}

/** Makes `wasm` the active tfjs backend; safe to call from every request. */
export function ensureWasmBackend(): Promise<typeof tf> {
  ready ??= (async () => {
    if (tf.findBackendFactory("wasm")) tf.removeBackend("wasm");
    tf.registerBackend("wasm", createBackend, PRIORITY);
    const ok = await tf.setBackend("wasm");
    if (!ok) throw new Error("tfjs refused the wasm backend");
    await tf.ready();
    return tf;
  })().catch((err) => {
    // A failed init must not poison the isolate: let the next request retry.
    ready = undefined;
    throw err;
  });
  return ready;
}
