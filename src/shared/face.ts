// The face pipeline over an abstract model runner (onnxruntime-web at the edge, onnxruntime-node at the origin,
// the browser's ORT in the embed): z -> mapping -> truncation -> W+ broadcast -> synthesis with seeded noise ->
// planar image -> exact size -> 8-bit RGB. Morph mixes two seeds' truncated w and noise (docs/determinism.md §4).
import { applyModelAttributes } from "./attributes.js";
import type { Manifest, NetworkSpec, NoiseInput } from "./manifest.js";
import { fullOutput, levelForSize, noiseInputs, wInput } from "./manifest.js";
import type { FaceRequest, Network } from "./params.js";
import type { PlanarImage } from "./resample.js";
import { resample, toRgb8 } from "./resample.js";
import { latentFromSeed, seedKey, streamNormals } from "./seed.js";

export interface Tensor {
  data: Float32Array;
  dims: number[];
}

/** Runs one network of the loaded model: feeds by input name, returns the requested outputs. */
export interface ModelRunner {
  run(network: "mapping" | Network, feeds: Record<string, Tensor>, outputs: string[]): Promise<Record<string, Tensor>>;
  /**
   * Optional: the input names `network` needs to produce `output` (e.g. a session over the graph pruned to that
   * output). When given, the pipeline computes and feeds only those noise maps; without it, every noise input.
   */
  inputsFor?(network: Network, output: string): Promise<readonly string[]>;
}

/** Truncated style w' = mean + psi * (w - mean), float32, for one seed. */
export async function styleFromSeed(runner: ModelRunner, m: Manifest, seed: string, psi: number): Promise<Float32Array> {
  const map = m.networks.mapping;
  const zName = map.inputs[0]!.name, wName = map.outputs[0]!.name;
  const z = await latentFromSeed(seed, m.style_dim);
  const out = await runner.run("mapping", { [zName]: { data: z, dims: [1, m.style_dim] } }, [wName]);
  const w = out[wName]!.data;
  const mean = m.truncation.mean;
  const p = Math.fround(psi);
  const res = new Float32Array(m.style_dim);
  for (let i = 0; i < m.style_dim; i++) {
    const mu = Math.fround(mean[i]!);
    res[i] = mu + Math.fround(p * Math.fround(w[i]! - mu));
  }
  return res;
}

/** Noise maps of a network for one seed, in noise_k order (only the maps in `maps` when given). */
export async function noiseForNetwork(net: NetworkSpec, seed: string, maps: readonly NoiseInput[] = noiseInputs(net)): Promise<Float32Array[]> {
  const k = await seedKey(seed);
  return maps.map((n) => streamNormals(k, 1 + n.index, n.size * n.size));
}

/** Linear mix of w and variance-preserving mix of noise; t = 0 and t = 1 return A and B exactly. */
export function morphInputs(
  a: { w: Float32Array; noise: Float32Array[] },
  b: { w: Float32Array; noise: Float32Array[] },
  t: number,
): { w: Float32Array; noise: Float32Array[] } {
  if (t <= 0) return a;
  if (t >= 1) return b;
  const w = new Float32Array(a.w.length);
  for (let i = 0; i < w.length; i++) w[i] = (1 - t) * a.w[i]! + t * b.w[i]!;
  const ca = Math.cos((t * Math.PI) / 2), sb = Math.sin((t * Math.PI) / 2);
  const noise = a.noise.map((na, k) => {
    const nb = b.noise[k]!;
    const n = new Float32Array(na.length);
    for (let i = 0; i < n.length; i++) n[i] = ca * na[i]! + sb * nb[i]!;
    return n;
  });
  return { w, noise };
}

/**
 * Run a synthesis network on one w' broadcast to all W+ slots; returns the named output as a planar image.
 * `noise[i]` is the map of `maps[i]` (default: every noise input of the network, in k order).
 */
export async function synthesize(
  runner: ModelRunner,
  m: Manifest,
  network: Network,
  w: Float32Array,
  noise: Float32Array[],
  output: string,
  maps?: readonly NoiseInput[],
): Promise<PlanarImage> {
  const net = m.networks[network];
  if (!net) throw new Error(`model ${m.id} has no ${network} network`);
  const { name, nW, rank } = wInput(net);
  const wPlus = new Float32Array(nW * m.style_dim);
  for (let s = 0; s < nW; s++) wPlus.set(w, s * m.style_dim);
  const dims = rank === 2 ? [1, m.style_dim] : [1, nW, m.style_dim];
  const feeds: Record<string, Tensor> = { [name]: { data: wPlus, dims } };
  (maps ?? noiseInputs(net)).forEach((n, k) => {
    feeds[n.name] = { data: noise[k]!, dims: [1, 1, n.size, n.size] };
  });
  const out = (await runner.run(network, feeds, [output]))[output];
  if (!out) throw new Error(`${network} did not return ${output}`);
  const [, c, h, wd] = out.dims as [number, number, number, number];
  return { data: out.data, channels: c, height: h, width: wd };
}

/**
 * Which synthesis output a request renders from: for the student the level levelForSize picks (the manifest's
 * `serving.sizes` table, else the smallest level >= `renderSize`), for the teacher its only one.
 */
export function outputFor(m: Manifest, network: Network, renderSize: number): string {
  if (network === "student") return levelForSize(m, renderSize).output;
  const t = m.networks.teacher;
  if (!t) throw new Error(`model ${m.id} has no teacher`);
  return fullOutput(t).name;
}

export interface RenderOptions {
  /** Synthesis output to render (see outputFor); defaults to the level serving req.size. */
  output?: string;
}

/** Full pipeline to planar pixels at the chosen output's native size (before resampling). */
export async function renderPlanar(runner: ModelRunner, m: Manifest, req: FaceRequest, opts: RenderOptions = {}): Promise<PlanarImage> {
  const net = m.networks[req.model];
  if (!net) throw new Error(`model ${m.id} has no ${req.model} network`);
  const output = opts.output ?? outputFor(m, req.model, req.size);
  // Only the noise maps the runner's graph for this output reads (a pruned small head needs no 512x512 maps).
  const needed = runner.inputsFor ? new Set(await runner.inputsFor(req.model, output)) : null;
  const maps = noiseInputs(net).filter((n) => !needed || needed.has(n.name));
  // Attribute options move each seed's truncated w (before the W+ broadcast and any morph mix; src/shared/attributes.ts).
  const inputs = async (seed: string) => ({
    w: applyModelAttributes(m, await styleFromSeed(runner, m, seed, req.psi), req.attributes),
    noise: await noiseForNetwork(net, seed, maps),
  });
  const mixed = req.kind === "morph"
    ? morphInputs(await inputs(req.seedA), await inputs(req.seedB), req.t)
    : await inputs(req.seed);
  return synthesize(runner, m, req.model, mixed.w, mixed.noise, output, maps);
}

/** Planar [-1, 1] image -> exactly size x size 8-bit RGB. */
export function finishPixels(img: PlanarImage, size: number): Uint8Array {
  return toRgb8(resample(img, size, size));
}

/** seed(s) + params -> size x size RGB bytes. */
export async function renderFacePixels(runner: ModelRunner, m: Manifest, req: FaceRequest, opts: RenderOptions = {}): Promise<Uint8Array> {
  return finishPixels(await renderPlanar(runner, m, req, opts), req.size);
}
