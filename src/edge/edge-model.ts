// The model the edge serves: the bundled manifest plus lazily created ORT sessions (per isolate, reused), exposed
// to the shared face pipeline as a ModelRunner.
import type { ModelRunner, Tensor } from "../shared/face.js";
import type { Manifest } from "../shared/manifest.js";
import { networkFile, parseManifest, sessionExtra } from "../shared/manifest.js";
import { modelLabel } from "../shared/contract.js";
import { BUNDLED_ERROR, BUNDLED_FILES, BUNDLED_MANIFEST } from "./bundled-model.generated.js";
import { createSession, ort } from "./ort-runtime.js";

type EdgeNetwork = "mapping" | "student";

export class EdgeModel implements ModelRunner {
  private sessions = new Map<EdgeNetwork, Promise<ort.InferenceSession>>();
  readonly studentPrecision: string;

  constructor(
    readonly manifest: Manifest,
    readonly files: Record<string, ArrayBuffer>,
  ) {
    this.studentPrecision = networkFile(manifest.networks.student, manifest.networks.student.edge_precision).precision;
  }

  /** X-Face-Model value for faces this edge renders. */
  get label(): string {
    return modelLabel(this.manifest.id, this.manifest.version, "student", this.studentPrecision);
  }

  get sessionsLoaded(): boolean {
    return this.sessions.size === 2;
  }

  private session(network: EdgeNetwork): Promise<ort.InferenceSession> {
    let s = this.sessions.get(network);
    if (!s) {
      const net = this.manifest.networks[network];
      const { file, precision } = networkFile(net, network === "student" ? net.edge_precision : undefined);
      const bytes = this.files[file];
      if (!bytes) throw new Error(`bundled model lacks ${file}`);
      s = createSession(bytes, sessionExtra(this.manifest, precision));
      s.catch(() => this.sessions.delete(network));
      this.sessions.set(network, s);
    }
    return s;
  }

  /** Create both sessions now (first request, or warm-up). */
  async load(): Promise<void> {
    await this.session("mapping");
    await this.session("student");
  }

  async run(network: string, feeds: Record<string, Tensor>, outputs: string[]): Promise<Record<string, Tensor>> {
    if (network !== "mapping" && network !== "student") throw new Error(`the edge does not run ${network}`);
    const session = await this.session(network);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor("float32", t.data, t.dims);
    const res = await session.run(ortFeeds, outputs);
    const out: Record<string, Tensor> = {};
    for (const name of outputs) {
      const t = res[name];
      if (!t) throw new Error(`${network} returned no ${name}`);
      out[name] = { data: (await t.getData()) as Float32Array, dims: [...t.dims] };
    }
    for (const t of Object.values(res)) t.dispose();
    return out;
  }
}

let cached: EdgeModel | null | undefined;

/** Why the build has no model (null when it has one). */
export function noModelReason(): string {
  return BUNDLED_ERROR ?? "this build has no model";
}

/** The bundled model of this isolate, or null when the build had none. Throws if its manifest is invalid. */
export function edgeModel(): EdgeModel | null {
  if (cached === undefined) {
    cached = BUNDLED_MANIFEST === null ? null : new EdgeModel(parseManifest(BUNDLED_MANIFEST), BUNDLED_FILES);
  }
  return cached;
}
