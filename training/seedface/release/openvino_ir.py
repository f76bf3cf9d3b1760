"""Read an OpenVINO IR (v10/v11 `.xml` + `.bin`) without OpenVINO: layers, edges and constant tensors as numpy.

Only what the importer needs: the graph's structure (who feeds whom) and the Const layers' data, so weights can be
located through the graph's edges even where the exporter folded them into unnamed constants.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DTYPES = {"f32": np.float32, "f16": np.float16, "f64": np.float64, "i64": np.int64, "i32": np.int32,
          "i8": np.int8, "u8": np.uint8, "boolean": np.bool_}


class IRError(ValueError):
    """The file is not a readable OpenVINO IR."""


@dataclass
class Layer:
    id: str
    name: str
    type: str
    attrs: dict
    out_names: list[str] = field(default_factory=list)  # tensor names of output port 0 (`names=` attribute)
    out_shapes: list[list[int]] = field(default_factory=list)


class IRGraph:
    def __init__(self, name: str, version: int, layers: dict[str, Layer], edges: list[tuple[str, int, str, int]],
                 weights: bytes, path: Path):
        self.name, self.version, self.layers, self.path = name, version, layers, path
        self._weights = weights
        self.inputs_of: dict[str, dict[int, str]] = {}  # layer id -> {to-port: from-layer id}
        self.consumers: dict[str, list[tuple[str, int]]] = {}  # layer id -> [(to-layer id, to-port)]
        for fl, _fp, tl, tp in edges:
            self.inputs_of.setdefault(tl, {})[tp] = fl
            self.consumers.setdefault(fl, []).append((tl, tp))

    # ---- structure

    def of_type(self, *types: str) -> list[Layer]:
        return [l for l in self.layers.values() if l.type in types]

    def parameters(self) -> list[Layer]:
        return self.of_type("Parameter")

    def results(self) -> list[Layer]:
        return self.of_type("Result")

    def inputs(self, layer: Layer) -> list[Layer]:
        """The layers feeding `layer`, in input-port order."""
        ins = self.inputs_of.get(layer.id, {})
        return [self.layers[ins[p]] for p in sorted(ins)]

    def users(self, layer: Layer) -> list[Layer]:
        return [self.layers[t] for t, _ in self.consumers.get(layer.id, [])]

    def topological(self) -> list[Layer]:
        """Layers in dependency order (Parameters and Consts first where they are needed)."""
        order, seen = [], set()
        for start in sorted(self.layers, key=int):
            stack = [(start, False)]
            while stack:
                lid, done = stack.pop()
                if done:
                    order.append(self.layers[lid])
                    continue
                if lid in seen:
                    continue
                seen.add(lid)
                stack.append((lid, True))
                for p in sorted(self.inputs_of.get(lid, {}), reverse=True):
                    src = self.inputs_of[lid][p]
                    if src not in seen:
                        stack.append((src, False))
        return order

    # ---- constants

    def const(self, layer: Layer) -> np.ndarray:
        if layer.type != "Const":
            raise IRError(f"{self.path.name}: layer {layer.name!r} ({layer.type}) is not a constant")
        a = layer.attrs
        dt = DTYPES.get(a.get("element_type", ""))
        if dt is None:
            raise IRError(f"{self.path.name}: constant {layer.name!r} has unsupported type {a.get('element_type')}")
        off, size = int(a["offset"]), int(a["size"])
        if off + size > len(self._weights):
            raise IRError(f"{self.path.name}: constant {layer.name!r} lies outside the .bin "
                          f"({off}+{size} > {len(self._weights)} bytes): wrong or truncated .bin file")
        shape = [int(s) for s in a.get("shape", "").replace(" ", "").split(",") if s != ""]
        count = int(np.prod(shape)) if shape else 1
        if count * np.dtype(dt).itemsize != size:
            raise IRError(f"{self.path.name}: constant {layer.name!r} has shape {shape} ({count} x "
                          f"{a.get('element_type')}) but size {size} bytes: inconsistent IR")
        arr = np.frombuffer(self._weights, dtype=dt, count=count, offset=off)
        return arr.reshape(shape).copy()

    def const_input(self, layer: Layer, port: int) -> tuple[Layer, np.ndarray] | None:
        """The constant feeding `layer` at input `port` (through Convert/Reshape-free edges only), or None."""
        src = self.inputs_of.get(layer.id, {}).get(port)
        if src is None or self.layers[src].type != "Const":
            return None
        return self.layers[src], self.const(self.layers[src])

    def named_consts(self) -> dict[str, np.ndarray]:
        """Constants whose name looks like a parameter path (contains a dot and a letter), by name."""
        return {l.name: self.const(l) for l in self.of_type("Const")
                if "." in l.name and any(ch.isalpha() for ch in l.name.split(".")[0])}


def _shape_of_port(port) -> list[int]:
    return [int(d.text) for d in port.findall("dim")]


def read_ir(xml_path: Path, bin_path: Path | None = None) -> IRGraph:
    xml_path = Path(xml_path)
    bin_path = Path(bin_path) if bin_path is not None else xml_path.with_suffix(".bin")
    if not xml_path.is_file():
        raise IRError(f"{xml_path}: no such file")
    if not bin_path.is_file():
        raise IRError(f"{xml_path}: its weights file {bin_path.name} is missing (it must sit beside the .xml)")
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as e:
        raise IRError(f"{xml_path}: not an XML file ({e})")
    if root.tag != "net" or root.find("layers") is None or root.find("edges") is None:
        raise IRError(f"{xml_path}: not an OpenVINO IR (root <{root.tag}>, expected <net> with <layers> and <edges>)")
    version = int(root.get("version", "0"))
    if version not in (10, 11):
        raise IRError(f"{xml_path}: OpenVINO IR version {version}; this reader knows versions 10 and 11")
    layers: dict[str, Layer] = {}
    for el in root.find("layers"):
        data = el.find("data")
        lay = Layer(el.get("id"), el.get("name", ""), el.get("type", ""), dict(data.attrib) if data is not None else {})
        out = el.find("output")
        if out is not None:
            for port in out.findall("port"):
                lay.out_shapes.append(_shape_of_port(port))
                if not lay.out_names and port.get("names"):
                    lay.out_names = [n.strip() for n in port.get("names").split(",")]
        layers[lay.id] = lay
    edges = [(e.get("from-layer"), int(e.get("from-port")), e.get("to-layer"), int(e.get("to-port")))
             for e in root.find("edges")]
    return IRGraph(root.get("name", xml_path.stem), version, layers, edges, bin_path.read_bytes(), xml_path)
