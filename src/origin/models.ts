// Loads a model directory (manifest-driven, docs/model-format.md) into onnxruntime-node sessions: the mapping
// network, the fp32 student and, when the manifest has one, the teacher. A network with several outputs (the
// student's wavelet heads) gets one session per output over the graph pruned to it, so a 32px face does not pay
// for the 64px head and a full-size face does not pay for the small heads.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import type { FileEntry, Manifest, NetworkSpec } from "../shared/manifest.js";
import { noiseInputs, parseManifest } from "../shared/manifest.js";
import { attributesEntry, parseAttributes, setModelAttributes } from "../shared/attributes.js";
import { graphPerOutput } from "../shared/onnx-prune.js";
import type { NetworkName, SessionEntry } from "./batching-runner.js";
import type { EpChoice } from "./config.js";
import { makeNoiseBatchable } from "./onnx-batch-noise.js";
import type { ProviderChoice } from "./provider.js";
import { chooseProvider, sessionOptions } from "./provider.js";

export interface LoadedNetwork extends SessionEntry {
  file: string;
  precision: "fp32";
  loadMs: number;
}

export interface LoadedModel {
  dir: string;
  manifest: Manifest;
  provider: ProviderChoice;
  networks: Partial<Record<NetworkName, LoadedNetwork>>;
  /** Networks the manifest has but this origin could not load (only the teacher may be absent), with the reason. */
  missing: Partial<Record<NetworkName, string>>;
}

export type Log = (event: string, fields?: Record<string, unknown>) => void;

type Entry = FileEntry & { produced_by?: string };

function readVerified(dir: string, file: string, m: Manifest): Uint8Array {
  const path = join(dir, file);
  const entry = m.files.find((f) => f.path === file) as Entry | undefined;
  if (!existsSync(path)) {
    const how = entry?.produced_by ? `: it is not committed, \`${entry.produced_by}\` makes it` : " (named in manifest.json)";
    throw new Error(`${path} not found${how}`);
  }
  const bytes = new Uint8Array(readFileSync(path));
  if (entry?.sha256) {
    const got = createHash("sha256").update(bytes).digest("hex");
    if (got !== entry.sha256) throw new Error(`${path}: sha256 ${got} does not match manifest.json (${entry.sha256})`);
  }
  return bytes;
}

/** A synthesis graph's noise inputs all take a batch axis once the declared batch-1 is made dynamic. */
function prepareSynthesis(bytes: Uint8Array, net: NetworkSpec): { model: Uint8Array; batchable: boolean } {
  const noise = noiseInputs(net);
  const { model, changed } = makeNoiseBatchable(bytes);
  const batchable = noise.every((n) => {
    if (changed.includes(n.name)) return true;
    const spec = net.inputs.find((i) => i.name === n.name);
    return spec !== undefined && typeof spec.shape[0] === "string";
  });
  return { model, batchable };
}

export async function loadModel(dir: string, want: EpChoice, threads: number, log: Log): Promise<LoadedModel> {
  const manifest = parseManifest(JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")));
  const mappingBytes = readVerified(dir, manifest.networks.mapping.files.fp32!, manifest);
  // Attribute directions (manifest `attributes`), checked against their sha256 like the weights.
  const attrs = attributesEntry(manifest);
  if (attrs) {
    const got = createHash("sha256").update(readFileSync(join(dir, attrs.file))).digest("hex");
    if (got !== attrs.sha256) throw new Error(`${join(dir, attrs.file)}: sha256 ${got} does not match manifest.json attributes (${attrs.sha256})`);
    setModelAttributes(manifest, parseAttributes(JSON.parse(readFileSync(join(dir, attrs.file), "utf8")), manifest.style_dim));
  }
  const provider = await chooseProvider(want, mappingBytes, threads);
  log("execution_provider", { ep: provider.ep, reason: provider.reason });
  const opts = sessionOptions(provider.ep, threads);
  const networks: LoadedModel["networks"] = {};
  const missing: LoadedModel["missing"] = {};
  for (const name of ["mapping", "student", "teacher"] as const) {
    const spec = manifest.networks[name];
    if (!spec) continue;
    const file = spec.files.fp32!;
    const entry = manifest.files.find((f) => f.path === file) as Entry | undefined;
    if (name === "teacher" && entry?.produced_by && !existsSync(join(dir, file))) {
      // A derived, uncommitted teacher (e.g. faces64's, `npm run models:faces64`): serve the students without it.
      missing[name] = `${join(dir, file)} not found: it is not committed, \`${entry.produced_by}\` makes it`;
      log("network_missing", { network: name, file, reason: missing[name] });
      continue;
    }
    const t0 = performance.now();
    const bytes = name === "mapping" ? mappingBytes : readVerified(dir, file, manifest);
    const { model, batchable } = name === "mapping" ? { model: bytes, batchable: true } : prepareSynthesis(bytes, spec);
    const sessions: Record<string, ort.InferenceSession> = {};
    const nodes: Record<string, number> = {};
    for (const [out, graph] of Object.entries(graphPerOutput(model))) {
      sessions[out] = await ort.InferenceSession.create(graph.model, opts);
      if (graph.nodes !== undefined) nodes[out] = graph.nodes;
    }
    const loadMs = performance.now() - t0;
    networks[name] = { sessions, batchable, ortTensor: ort.Tensor, file, precision: "fp32", loadMs };
    log("network_loaded", {
      network: name, file, bytes: bytes.length, batchable, ep: provider.ep, ms: Math.round(loadMs),
      ...(Object.keys(nodes).length ? { pruned_nodes: nodes } : {}),
    });
  }
  return { dir, manifest, provider, networks, missing };
}

export async function releaseModel(m: LoadedModel): Promise<void> {
  for (const n of Object.values(m.networks)) for (const s of Object.values(n?.sessions ?? {})) await s.release();
}
