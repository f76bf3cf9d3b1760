// A ModelRunner (src/shared/face.ts) over onnxruntime-node that micro-batches: concurrent batch-1 calls for the
// same network and output are queued, concatenated along the batch axis (noise included: see
// onnx-batch-noise.ts), run as one ORT call, and split back. The face pipeline itself stays the shared one,
// identical to the edge's.
import type * as ort from "onnxruntime-node";
import type { ModelRunner, Tensor } from "../shared/face.js";
import type { BatchInfo } from "./batcher.js";
import { MicroBatcher } from "./batcher.js";

export type NetworkName = "mapping" | "student" | "teacher";

export interface SessionEntry {
  /** One session per output, each over the graph pruned to that output (src/shared/onnx-prune.ts). */
  sessions: Record<string, ort.InferenceSession>;
  /** Every input accepts a batch axis > 1 (false: batches run item by item). */
  batchable: boolean;
  ortTensor: typeof ort.Tensor;
}

interface Call {
  network: NetworkName;
  feeds: Record<string, Tensor>;
  outputs: string[];
}

type Outputs = Record<string, Tensor>;

export interface BatchStats {
  batches: number;
  items: number;
  maxBatchSeen: number;
}

function concatFeeds(calls: Call[]): Record<string, Tensor> {
  const first = calls[0]!.feeds;
  const out: Record<string, Tensor> = {};
  for (const name of Object.keys(first)) {
    const parts = calls.map((c) => {
      const t = c.feeds[name];
      if (!t) throw new Error(`batched call is missing input ${name}`);
      if (t.dims[0] !== 1) throw new Error(`input ${name} must have batch 1 per call, got ${t.dims[0]}`);
      return t.data;
    });
    const per = parts[0]!.length;
    const data = new Float32Array(per * parts.length);
    parts.forEach((p, i) => {
      if (p.length !== per) throw new Error(`input ${name} differs in size between batched calls`);
      data.set(p, i * per);
    });
    out[name] = { data, dims: [parts.length, ...first[name]!.dims.slice(1)] };
  }
  return out;
}

function splitOutputs(res: Record<string, ort.Tensor>, names: string[], n: number): Outputs[] {
  const per: Outputs[] = Array.from({ length: n }, () => ({}));
  for (const name of names) {
    const t = res[name];
    if (!t) throw new Error(`network did not return ${name}`);
    const data = t.data as Float32Array;
    const dims = t.dims as readonly number[];
    if (dims[0] !== n) throw new Error(`${name} has batch ${dims[0]}, expected ${n}`);
    const size = data.length / n;
    for (let i = 0; i < n; i++) per[i]![name] = { data: data.slice(i * size, (i + 1) * size), dims: [1, ...dims.slice(1)] };
  }
  return per;
}

export class BatchingRunner {
  private readonly batcher: MicroBatcher<Call, Outputs>;
  readonly stats: BatchStats = { batches: 0, items: 0, maxBatchSeen: 0 };
  /** Called after every ORT run (for logs and Server-Timing). */
  onBatch?: (network: string, size: number, ms: number) => void;
  onFallback?: (network: string, err: unknown) => void;

  constructor(
    private readonly sessions: Partial<Record<NetworkName, SessionEntry>>,
    opts: { windowMs: number; maxBatch: number; maxQueue: number },
  ) {
    this.batcher = new MicroBatcher<Call, Outputs>({ ...opts, run: (_lane, calls) => this.runBatch(calls[0]!.network, calls) });
  }

  /** A runner for one request: its queued calls give up at the deadline (performance.now() ms). */
  forRequest(deadline: number, infos?: BatchInfo[]): ModelRunner {
    return {
      run: async (network, feeds, outputs) => {
        const left = Math.max(1, deadline - performance.now());
        // One lane per network and output set: a batch runs one pruned graph.
        const lane = `${network}/${[...outputs].sort().join(",")}`;
        const { value, info } = await this.batcher.submit(lane, { network: network as NetworkName, feeds, outputs }, left);
        infos?.push(info);
        return value;
      },
    };
  }

  drain(): Promise<void> {
    return this.batcher.drain();
  }

  get load(): number {
    return this.batcher.load;
  }

  private async runOrt(entry: SessionEntry, feeds: Record<string, Tensor>, outputs: string[]): Promise<Record<string, ort.Tensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, t] of Object.entries(feeds)) ortFeeds[k] = new entry.ortTensor("float32", t.data, t.dims);
    const result: Record<string, ort.Tensor> = {};
    for (const name of outputs) {
      const session = entry.sessions[name];
      if (!session) throw new Error(`network has no output ${name}`);
      Object.assign(result, await session.run(ortFeeds, [name]));
    }
    return result;
  }

  private async runBatch(network: NetworkName, calls: Call[]): Promise<Outputs[]> {
    const entry = this.sessions[network];
    if (!entry) throw new Error(`network ${network} is not loaded`);
    const outputs = [...new Set(calls.flatMap((c) => c.outputs))].sort();
    const t0 = performance.now();
    let result: Outputs[];
    let batched: Outputs[] | undefined;
    if (entry.batchable || calls.length === 1) {
      try {
        batched = splitOutputs(await this.runOrt(entry, concatFeeds(calls), outputs), outputs, calls.length);
      } catch (e) {
        if (calls.length === 1) throw e;
        // A graph that rejects batched inputs after all: remember it and fall back to one call per item.
        entry.batchable = false;
        this.onFallback?.(network, e);
      }
    }
    if (batched) {
      result = batched;
    } else {
      result = [];
      for (const c of calls) result.push(splitOutputs(await this.runOrt(entry, c.feeds, outputs), outputs, 1)[0]!);
    }
    this.stats.batches++;
    this.stats.items += calls.length;
    this.stats.maxBatchSeen = Math.max(this.stats.maxBatchSeen, calls.length);
    this.onBatch?.(network, calls.length, performance.now() - t0);
    return result;
  }
}
