// Makes the batch dimension of a synthesis network's noise inputs dynamic, so one ORT batch can carry a different
// noise map per item (each seed has its own noise). The exported graphs declare noise as [1,1,s,s] and only ever
// multiply it by a learned scalar and add it to a [B,C,s,s] activation, so [B,1,s,s] broadcasts the same way;
// only the declared input shape stops ORT from accepting it. This edits that declaration in the protobuf bytes
// (ModelProto.graph.input[*].type.tensor_type.shape.dim[0]) and drops the graph's optional intermediate
// value_info, whose recorded batch-1 shapes would otherwise disagree. Weights are copied through untouched.

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

// Field numbers from onnx.proto.
const MODEL_GRAPH = 7;
const GRAPH_INPUT = 11;
const GRAPH_VALUE_INFO = 13;
const VALUE_INFO_NAME = 1;
const VALUE_INFO_TYPE = 2;
const TYPE_TENSOR = 1;
const TENSOR_SHAPE = 2;
const SHAPE_DIM = 1;
const DIM_VALUE = 1;
const DIM_PARAM = 2;

interface Field {
  field: number;
  wire: number;
  /** Whole field bytes including the tag (for verbatim copies). */
  raw: Uint8Array;
  /** Payload of a length-delimited field. */
  payload?: Uint8Array;
  /** Value of a varint field (exact below 2^53). */
  value?: number;
}

function readVarint(buf: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let mul = 1;
  for (;;) {
    if (pos >= buf.length) throw new Error("truncated varint");
    const b = buf[pos++]!;
    result += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return [result, pos];
    mul *= 128;
  }
}

function writeVarint(n: number): Uint8Array {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Uint8Array.from(out);
}

function parseFields(buf: Uint8Array): Field[] {
  const fields: Field[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const start = pos;
    const [tag, p1] = readVarint(buf, pos);
    pos = p1;
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    const f: Field = { field, wire, raw: buf };
    if (wire === WIRE_VARINT) {
      const [v, p2] = readVarint(buf, pos);
      f.value = v;
      pos = p2;
    } else if (wire === WIRE_I64) {
      pos += 8;
    } else if (wire === WIRE_I32) {
      pos += 4;
    } else if (wire === WIRE_LEN) {
      const [len, p2] = readVarint(buf, pos);
      f.payload = buf.subarray(p2, p2 + len);
      pos = p2 + len;
    } else {
      throw new Error(`unsupported protobuf wire type ${wire}`);
    }
    if (pos > buf.length) throw new Error("truncated protobuf field");
    f.raw = buf.subarray(start, pos);
    fields.push(f);
  }
  return fields;
}

function lenField(field: number, payload: Uint8Array): Uint8Array[] {
  return [writeVarint(field * 8 + WIRE_LEN), writeVarint(payload.length), payload];
}

function concat(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Rebuilds a message, replacing the payload of selected length-delimited fields (null drops the field). */
function rewrite(buf: Uint8Array, edit: (f: Field) => Uint8Array | null | undefined): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const f of parseFields(buf)) {
    const replaced = f.payload ? edit(f) : undefined;
    if (replaced === undefined) parts.push(f.raw);
    else if (replaced !== null) parts.push(...lenField(f.field, replaced));
  }
  return concat(parts);
}

const utf8 = new TextDecoder();
const BATCH_PARAM = new TextEncoder().encode("B");

/** Dimension message for dim 0, or null when dim 0 is not the literal 1. */
function makeFirstDimDynamic(shape: Uint8Array): Uint8Array | null {
  let seenFirst = false;
  let changed = false;
  const out = rewrite(shape, (f) => {
    if (f.field !== SHAPE_DIM || seenFirst) return undefined;
    seenFirst = true;
    const dim = parseFields(f.payload!);
    const v = dim.find((d) => d.field === DIM_VALUE);
    if (!v || v.value !== 1) return undefined;
    changed = true;
    return concat(lenField(DIM_PARAM, BATCH_PARAM));
  });
  return changed ? out : null;
}

function inputName(valueInfo: Uint8Array): string {
  const nameField = parseFields(valueInfo).find((f) => f.field === VALUE_INFO_NAME && f.payload);
  return nameField ? utf8.decode(nameField.payload!) : "";
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
    if (f.field !== MODEL_GRAPH) return undefined;
    return rewrite(f.payload!, (g) => {
      if (g.field === GRAPH_VALUE_INFO) return null;
      if (g.field !== GRAPH_INPUT) return undefined;
      const name = inputName(g.payload!);
      if (!isNoise(name)) return undefined;
      let inputChanged = false;
      const vi = rewrite(g.payload!, (t) => {
        if (t.field !== VALUE_INFO_TYPE) return undefined;
        return rewrite(t.payload!, (tt) => {
          if (tt.field !== TYPE_TENSOR) return undefined;
          return rewrite(tt.payload!, (s) => {
            if (s.field !== TENSOR_SHAPE) return undefined;
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
