// wrangler's CompiledWasm rule turns a `.wasm` import into a precompiled module:
// workerd refuses to compile WebAssembly from bytes at run time.
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}

// The package's Emscripten glue is plain UMD JavaScript without typings.
declare module "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm.js" {
  const factory: (config: Record<string, unknown>) => Promise<Record<string, unknown>>;
  export default factory;
}
