// Prunes an ONNX model to some of its outputs: only the nodes those outputs depend on are kept, with the
// initializers they read. onnxruntime runs every node of a graph whatever outputs a run asks for, so a
// multi-scale network (the student's img_8 ... img_R heads) costs its full price even for its smallest output; a
// session per pruned graph runs only what that output needs. Graph inputs are all kept (unused ones may still be
// fed) unless `dropUnusedInputs` is set (then a session needs, and accepts, only the inputs the kept nodes read);
// weights are copied byte for byte. Runtime-agnostic.
import { ONNX, parseFields, rewrite, stringField, stringFields } from "./onnx-proto.js";

export interface PruneResult {
  model: Uint8Array;
  nodesBefore: number;
  nodesAfter: number;
  /** The graph inputs of the pruned model, in graph order. */
  inputs: string[];
}

export interface PruneOptions {
  /** Also remove graph inputs that no kept node reads (default false: every input is kept). */
  dropUnusedInputs?: boolean;
}

function graphOf(model: Uint8Array): Uint8Array {
  const g = parseFields(model).find((f) => f.field === ONNX.MODEL_GRAPH && f.payload);
  if (!g) throw new Error("not an ONNX model: no graph");
  return g.payload!;
}

function hasSubgraph(node: Uint8Array): boolean {
  return parseFields(node).some(
    (f) => f.field === ONNX.NODE_ATTRIBUTE && parseFields(f.payload!).some((a) => a.field === ONNX.ATTRIBUTE_GRAPH || a.field === ONNX.ATTRIBUTE_GRAPHS),
  );
}

/** The names of a model's graph outputs, in order. */
export function graphOutputs(model: Uint8Array): string[] {
  return parseFields(graphOf(model))
    .filter((f) => f.field === ONNX.GRAPH_OUTPUT && f.payload)
    .map((f) => stringField(f.payload!, ONNX.VALUE_INFO_NAME));
}

/** The names of a model's graph inputs (initializers listed as inputs included), in order. */
export function graphInputs(model: Uint8Array): string[] {
  return parseFields(graphOf(model))
    .filter((f) => f.field === ONNX.GRAPH_INPUT && f.payload)
    .map((f) => stringField(f.payload!, ONNX.VALUE_INFO_NAME));
}

/** A copy of `model` that computes only `keep` (a non-empty subset of its outputs). */
export function pruneToOutputs(model: Uint8Array, keep: string[], opts: PruneOptions = {}): PruneResult {
  const graph = graphOf(model);
  const fields = parseFields(graph);
  const outputs = graphOutputs(model);
  const inputs = graphInputs(model);
  if (keep.length === 0) throw new Error("pruneToOutputs: no outputs to keep");
  for (const k of keep) if (!outputs.includes(k)) throw new Error(`pruneToOutputs: the graph has no output ${k} (has ${outputs.join(", ")})`);

  const nodes = fields.filter((f) => f.field === ONNX.GRAPH_NODE).map((f) => f.payload!);
  // Nodes are stored in topological order, so one backward pass finds everything the kept outputs need.
  // A node with a subgraph (If, Loop, Scan) may read outer values its inputs do not list: leave such graphs whole.
  if (nodes.some(hasSubgraph)) return { model, nodesBefore: nodes.length, nodesAfter: nodes.length, inputs };
  const needed = new Set(keep);
  const keepNode = new Set<number>();
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!;
    if (!stringFields(node, ONNX.NODE_OUTPUT).some((o) => needed.has(o))) continue;
    keepNode.add(i);
    for (const input of stringFields(node, ONNX.NODE_INPUT)) if (input) needed.add(input);
  }

  let nodeIndex = 0;
  const pruned = rewrite(model, (f) => {
    if (f.field !== ONNX.MODEL_GRAPH) return undefined;
    return rewrite(graph, (g) => {
      if (g.field === ONNX.GRAPH_NODE) return keepNode.has(nodeIndex++) ? undefined : null;
      if (g.field === ONNX.GRAPH_OUTPUT) return keep.includes(stringField(g.payload!, ONNX.VALUE_INFO_NAME)) ? undefined : null;
      if (g.field === ONNX.GRAPH_INITIALIZER) return needed.has(stringField(g.payload!, ONNX.TENSOR_NAME)) ? undefined : null;
      if (g.field === ONNX.GRAPH_VALUE_INFO) return needed.has(stringField(g.payload!, ONNX.VALUE_INFO_NAME)) ? undefined : null;
      if (g.field === ONNX.GRAPH_INPUT && opts.dropUnusedInputs) return needed.has(stringField(g.payload!, ONNX.VALUE_INFO_NAME)) ? undefined : null;
      return undefined;
    });
  });
  const kept = opts.dropUnusedInputs ? inputs.filter((i) => needed.has(i)) : inputs;
  return { model: pruned, nodesBefore: nodes.length, nodesAfter: keepNode.size, inputs: kept };
}

/** One graph per output of `model`: pruned to that output, or the model itself when it has a single output. */
export function graphPerOutput(model: Uint8Array): Record<string, { model: Uint8Array; nodes?: number }> {
  const outputs = graphOutputs(model);
  if (outputs.length === 1) return { [outputs[0]!]: { model } };
  return Object.fromEntries(outputs.map((o) => {
    const p = pruneToOutputs(model, [o]);
    return [o, { model: p.model, nodes: p.nodesAfter }];
  }));
}
