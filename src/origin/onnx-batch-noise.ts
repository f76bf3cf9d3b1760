// Makes the batch dimension of a synthesis network's noise inputs dynamic, so one ORT batch can carry a different
// noise map per item (each seed has its own noise). The exported graphs declare noise as [1,1,s,s] and only ever
// multiply it by a learned scalar and add it to a [B,C,s,s] activation, so [B,1,s,s] broadcasts the same way;
// only the declared input shape stops ORT from accepting it. This edits that declaration in the protobuf bytes
// (ModelProto.graph.input[*].type.tensor_type.shape.dim[0]) and drops the graph's optional intermediate
// value_info, whose recorded batch-1 shapes would otherwise disagree. Weights are copied through untouched.

import { ONNX, concat, lenField, parseFields, rewrite, stringField } from "../shared/onnx-proto.js";

const BATCH_PARAM = new TextEncoder().encode("B");

/** Dimension message for dim 0, or null when dim 0 is not the literal 1. */
function makeFirstDimDynamic(shape: Uint8Array): Uint8Array | null {
  let seenFirst = false;
  let changed = false;
  const out = rewrite(shape, (f) => {
    if (f.field !== ONNX.SHAPE_DIM || seenFirst) return undefined;
    seenFirst = true;
    const dim = parseFields(f.payload!);
    const v = dim.find((d) => d.field === ONNX.DIM_VALUE);
    if (!v || v.value !== 1) return undefined;
    changed = true;
    return concat(lenField(ONNX.DIM_PARAM, BATCH_PARAM));
  });
  return changed ? out : null;
}

export interface BatchNoiseResult {
  model: Uint8Array;
  /** Inputs whose batch dimension became dynamic. */
  changed: string[];
}

/** Returns a copy of the ONNX model whose inputs matching `isNoise` accept any batch size. */
export function makeNoiseBatchable(model: Uint8Array, isNoise: (name: string) => boolean = (n) => /^noise_\d+$/.test(n)): BatchNoiseResult {
  const changed: string[] = [];
  const out = rewrite(model, (f) => {
    if (f.field !== ONNX.MODEL_GRAPH) return undefined;
    return rewrite(f.payload!, (g) => {
      if (g.field === ONNX.GRAPH_VALUE_INFO) return null;
      if (g.field !== ONNX.GRAPH_INPUT) return undefined;
      const name = stringField(g.payload!, ONNX.VALUE_INFO_NAME);
      if (!isNoise(name)) return undefined;
      let inputChanged = false;
      const vi = rewrite(g.payload!, (t) => {
        if (t.field !== ONNX.VALUE_INFO_TYPE) return undefined;
        return rewrite(t.payload!, (tt) => {
          if (tt.field !== ONNX.TYPE_TENSOR) return undefined;
          return rewrite(tt.payload!, (s) => {
            if (s.field !== ONNX.TENSOR_SHAPE) return undefined;
            const dyn = makeFirstDimDynamic(s.payload!);
            if (!dyn) return undefined;
            inputChanged = true;
            return dyn;
          });
        });
      });
      if (inputChanged) changed.push(name);
      return vi;
    });
  });
  return { model: out, changed };
}
