// Minimal protobuf wire-format reading and rewriting for ONNX ModelProto bytes: enough to edit a graph's
// declarations and node list while copying every other field (weights included) through byte for byte.
// Runtime-agnostic (no Node or workerd APIs).

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

/** Field numbers from onnx.proto. */
export const ONNX = {
  MODEL_GRAPH: 7,
  GRAPH_NODE: 1,
  GRAPH_INITIALIZER: 5,
  GRAPH_INPUT: 11,
  GRAPH_OUTPUT: 12,
  GRAPH_VALUE_INFO: 13,
  NODE_INPUT: 1,
  NODE_OUTPUT: 2,
  NODE_ATTRIBUTE: 5,
  ATTRIBUTE_GRAPH: 6,
  ATTRIBUTE_GRAPHS: 11,
  TENSOR_NAME: 8,
  VALUE_INFO_NAME: 1,
  VALUE_INFO_TYPE: 2,
  TYPE_TENSOR: 1,
  TENSOR_SHAPE: 2,
  SHAPE_DIM: 1,
  DIM_VALUE: 1,
  DIM_PARAM: 2,
} as const;

export interface Field {
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

export function parseFields(buf: Uint8Array): Field[] {
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

export function lenField(field: number, payload: Uint8Array): Uint8Array[] {
  return [writeVarint(field * 8 + WIRE_LEN), writeVarint(payload.length), payload];
}

export function concat(parts: Uint8Array[]): Uint8Array {
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
export function rewrite(buf: Uint8Array, edit: (f: Field) => Uint8Array | null | undefined): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const f of parseFields(buf)) {
    const replaced = f.payload ? edit(f) : undefined;
    if (replaced === undefined) parts.push(f.raw);
    else if (replaced !== null) parts.push(...lenField(f.field, replaced));
  }
  return concat(parts);
}

const utf8 = new TextDecoder();

/** The string payload of the first length-delimited field `field` (e.g. a name), or "". */
export function stringField(msg: Uint8Array, field: number): string {
  const f = parseFields(msg).find((x) => x.field === field && x.payload);
  return f ? utf8.decode(f.payload!) : "";
}

/** Every string payload of the repeated field `field`. */
export function stringFields(msg: Uint8Array, field: number): string[] {
  return parseFields(msg).filter((x) => x.field === field && x.payload).map((x) => utf8.decode(x.payload!));
}
