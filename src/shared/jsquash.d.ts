// The @jsquash codec glue files imported directly (src/shared/codecs.ts): emscripten module factories.
declare module "@jsquash/webp/codec/enc/webp_enc_simd.js" {
  const factory: (opts: object) => Promise<unknown>;
  export default factory;
}
declare module "@jsquash/jpeg/codec/enc/mozjpeg_enc.js" {
  const factory: (opts: object) => Promise<unknown>;
  export default factory;
}
declare module "@jsquash/avif/codec/enc/avif_enc.js" {
  const factory: (opts: object) => Promise<unknown>;
  export default factory;
}
