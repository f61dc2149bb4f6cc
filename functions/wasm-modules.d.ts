// `*.wasm` imports are typed in worker-configuration.d.ts (generated from the
// CompiledWasm rule: workerd refuses to compile WebAssembly from bytes at run time).

// The package's Emscripten glue is plain UMD JavaScript without typings.
declare module "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm.js" {
  const factory: (config: Record<string, unknown>) => Promise<Record<string, unknown>>;
  export default factory;
}
