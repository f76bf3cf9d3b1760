// Messages between the page (render-client.ts) and the render worker (face-worker.ts).
import type { AttributeOptions } from "../shared/attributes.js";

/** Where a face is drawn: in the browser with onnxruntime-web (WebGPU or WASM), or by the edge as a PNG. */
export type RenderPath = "webgpu" | "wasm" | "server";
export type ClientPath = Exclude<RenderPath, "server">;

export interface InitRequest {
  type: "init";
  /** Origin + "/" the embed files are served from (the directory of embed.js). */
  base: string;
  path: ClientPath;
}
export interface RenderRequest {
  type: "render";
  id: number;
  seed: string;
  size: number;
  psi: number;
  /** Attribute options (gender, age, age_min, expression), canonical (src/shared/attributes.ts). */
  attributes?: AttributeOptions;
}
export type ToWorker = InitRequest | RenderRequest;

export interface ModelInfo {
  id: string;
  version: string;
  resolution: number;
  /** Largest size the edge draws itself (serving.edge_max_size), else the model's resolution. */
  maxSize: number;
  defaultPsi: number;
  precision: string;
}
export interface ReadyMessage {
  type: "ready";
  path: ClientPath;
  model: ModelInfo;
  /** Time from init to sessions created (model download or Cache Storage read included). */
  initMs: number;
}
export interface InitErrorMessage {
  type: "init-error";
  message: string;
}
export interface FaceMessage {
  type: "face";
  id: number;
  width: number;
  height: number;
  /** RGBA, width * height * 4 bytes (transferred). */
  rgba: ArrayBuffer;
  ms: number;
  /** The student output (level) it was drawn from, as the edge picks it (edgeDrawLevel). */
  level: string;
  /** The inputs fed to that level's pruned graph. */
  inputs: string[];
}
export interface RenderErrorMessage {
  type: "render-error";
  id: number;
  message: string;
}
export type FromWorker = ReadyMessage | InitErrorMessage | FaceMessage | RenderErrorMessage;
