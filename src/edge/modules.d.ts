// Module types for files wrangler bundles by rule (see wrangler.toml [[rules]]).
declare module "*.onnx" {
  const data: ArrayBuffer;
  export default data;
}
declare module "*.wasm" {
  const mod: WebAssembly.Module;
  export default mod;
}
