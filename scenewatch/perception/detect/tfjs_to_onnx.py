"""A small TF.js graph-model → ONNX converter (numpy + onnx only).

TF.js graph models are a JSON topology (TensorFlow ``NodeDef`` s) plus binary weight shards
described by a ``weightsManifest``. This converter reads both, dequantizes the weights,
folds constant subgraphs (e.g. the ``SparseToDense`` chains that build reshape targets) in
numpy, and maps the remaining ops one to one onto ONNX. TF's NHWC convolutions are
wrapped in transposes to ONNX's NCHW; adjacent transposes are composed (and dropped when
they cancel) and convolution biases are folded into the ``Conv`` node, so the result runs
without layout churn.

Only the ops that the shipped detectors use are supported; anything else raises
:class:`TfjsConversionError` naming the op. The output bytes are a pure function of the
input files (no timestamps, stable node order), so a conversion can be cached and tested
for determinism.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scenewatch.errors import ScenewatchError

CONVERTER_VERSION = "2"  # unchanged: the new ops do not alter nanodet's output bytes
OPSET = 18

_TF_DTYPES: dict[str, Any] = {
    "DT_FLOAT": np.float32,
    "DT_INT32": np.int32,
    "DT_INT64": np.int64,
    "DT_BOOL": np.bool_,
}
_MANIFEST_DTYPES: dict[str, Any] = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}


class TfjsConversionError(ScenewatchError):
    """The TF.js graph uses something this converter does not handle."""


def load_tfjs_weights(model_json: dict[str, Any], weights_dir: Path) -> dict[str, NDArray[Any]]:
    """Read and dequantize every weight listed in a TF.js ``weightsManifest``.

    Args:
        model_json: the parsed ``model.json``.
        weights_dir: folder holding the binary shards named in the manifest.

    Returns:
        Weight name → array (float weights as float32).
    """
    out: dict[str, NDArray[Any]] = {}
    for group in model_json["weightsManifest"]:
        data = b"".join((weights_dir / p).read_bytes() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            shape = [int(d) for d in spec["shape"]]
            count = int(np.prod(shape)) if shape else 1
            quant = spec.get("quantization")
            if quant is None:
                dtype = np.dtype(_MANIFEST_DTYPES[spec["dtype"]])
                nbytes = count * dtype.itemsize
                arr: NDArray[Any] = np.frombuffer(data, dtype, count, offset).copy()
            elif quant["dtype"] == "float16":
                nbytes = count * 2
                arr = np.frombuffer(data, np.float16, count, offset).astype(np.float32)
            elif quant["dtype"] in ("uint8", "uint16"):
                qdtype = np.dtype(quant["dtype"])
                nbytes = count * qdtype.itemsize
                q = np.frombuffer(data, qdtype, count, offset).astype(np.float32)
                arr = (q * np.float32(quant["scale"]) + np.float32(quant["min"])).astype(np.float32)
            else:
                raise TfjsConversionError(f"unsupported weight quantization {quant['dtype']!r} for {spec['name']}")
            if offset + nbytes > len(data):
                raise TfjsConversionError(f"weight shards are too short for {spec['name']}")
            out[spec["name"]] = arr.reshape(shape)
            offset += nbytes
    return out


def _ref(name: str) -> str:
    """Canonical tensor name: ``node`` → ``node:0``."""
    return name if ":" in name else f"{name}:0"


def _attr_ints(node: dict[str, Any], key: str) -> list[int]:
    return [int(i) for i in node.get("attr", {}).get(key, {}).get("list", {}).get("i", [])]


def _attr_str(node: dict[str, Any], key: str, default: str = "") -> str:
    raw = node.get("attr", {}).get(key, {}).get("s")
    return base64.b64decode(raw).decode() if raw else default


def _attr_scalar(node: dict[str, Any], key: str, kind: str, default: Any) -> Any:
    return node.get("attr", {}).get(key, {}).get(kind, default)


@dataclass
class _Builder:
    """Accumulates ONNX nodes while walking the TF graph."""

    consts: dict[str, NDArray[Any]]
    consumers: Counter[str]
    nodes: list[Any] = field(default_factory=list)
    initializers: dict[str, NDArray[Any]] = field(default_factory=dict)
    alias: dict[str, str] = field(default_factory=dict)
    transposed: dict[str, tuple[str, tuple[int, ...]]] = field(default_factory=dict)
    conv_of: dict[str, Any] = field(default_factory=dict)
    zero_pad_of: dict[str, tuple[str, NDArray[np.int64]]] = field(default_factory=dict)
    counter: int = 0

    def name(self, tf_name: str) -> str:
        return self.alias.get(tf_name, tf_name)

    def fresh(self, hint: str) -> str:
        self.counter += 1
        return f"{hint}__{self.counter}"

    def const(self, value: NDArray[Any], hint: str) -> str:
        name = self.fresh(hint)
        self.initializers[name] = value
        return name

    def add(self, op: str, inputs: Sequence[str], outputs: Sequence[str], **attrs: Any) -> Any:
        from onnx import helper

        node = helper.make_node(op, list(inputs), list(outputs), name=outputs[0], **attrs)
        self.nodes.append(node)
        return node

    def transpose(self, src: str, perm: Sequence[int], out: str) -> str:
        """Emit a transpose, composing with a transpose that produced ``src``; returns the tensor name."""
        perm_t = tuple(int(p) for p in perm)
        if src in self.transposed:
            base, first = self.transposed[src]
            perm_t = tuple(first[p] for p in perm_t)
            src = base
        if perm_t == tuple(range(len(perm_t))):
            return src
        self.add("Transpose", [src], [out], perm=list(perm_t))
        self.transposed[out] = (src, perm_t)
        return out


_BINARY_OPS = {"AddV2": "Add", "Minimum": "Min", "Maximum": "Max"}
_NHWC_TO_NCHW = (0, 3, 1, 2)
_NCHW_TO_NHWC = (0, 2, 3, 1)


def _fold(op: str, node: dict[str, Any], args: list[NDArray[Any]]) -> NDArray[Any] | None:
    """Evaluate a node whose inputs are all constant; ``None`` if the op is not foldable."""
    if op in ("Identity", "StopGradient"):
        return args[0]
    if op in ("Add", "AddV2"):
        return np.asarray(args[0] + args[1])
    if op == "Sub":
        return np.asarray(args[0] - args[1])
    if op == "Mul":
        return np.asarray(args[0] * args[1])
    if op == "Reshape":
        return args[0].reshape([int(d) for d in args[1]])
    if op == "Transpose":
        return np.transpose(args[0], [int(p) for p in args[1]])
    if op == "Cast":
        dst = node.get("attr", {}).get("DstT", {}).get("type", "DT_FLOAT")
        return args[0].astype(_TF_DTYPES[dst])
    if op == "ConcatV2":
        return np.concatenate(args[:-1], axis=int(args[-1]))
    if op == "SparseToDense":
        indices, shape, values, default = args
        out = np.full([int(d) for d in np.atleast_1d(shape)], default, dtype=np.asarray(values).dtype)
        idx = np.asarray(indices).astype(np.int64)
        if idx.size:
            idx = idx.reshape(len(idx), -1) if idx.ndim > 1 else idx.reshape(-1, 1)
            out[tuple(idx.T)] = values
        return out
    return None


def _emit(b: _Builder, op: str, node: dict[str, Any], ins: list[str], out: str) -> None:
    """Map one non-constant TF node onto ONNX nodes producing tensor ``out``."""
    c = b.consts
    if op in ("Identity", "StopGradient"):
        b.alias[out] = b.name(ins[0])
    elif op in ("Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative"):
        _emit_conv(b, op, node, ins, out)
    elif op in ("Add", "AddV2", "Sub", "Mul", "Minimum", "Maximum"):
        x, y = ins
        if op in ("Add", "AddV2") and x not in c and y in c and x in b.conv_of and b.consumers[x] == 1:
            conv = b.conv_of[x]
            bias = c[y].astype(np.float32)
            if bias.ndim == 1 and len(conv.input) == 2:
                conv.input.append(b.const(bias, "bias"))
                b.alias[out] = b.name(x)
                return
        names = [b.const(c[t].astype(np.float32) if c[t].dtype == np.float64 else c[t], "k") if t in c
                 else b.name(t) for t in ins]
        b.add(_BINARY_OPS.get(op, op), names, [out])
    elif op in ("Relu", "Sigmoid", "Tanh"):
        b.add(op, [b.name(ins[0])], [out])
    elif op == "Relu6":
        lo, hi = b.const(np.array(0, np.float32), "lo"), b.const(np.array(6, np.float32), "hi")
        b.add("Clip", [b.name(ins[0]), lo, hi], [out])
    elif op == "LeakyRelu":
        b.add("LeakyRelu", [b.name(ins[0])], [out], alpha=float(_attr_scalar(node, "alpha", "f", 0.2)))
    elif op in ("Pad", "PadV2", "MirrorPad"):
        pads = c[ins[1]].astype(np.int64)
        onnx_pads = np.concatenate([pads[:, 0], pads[:, 1]])
        args = [b.name(ins[0]), b.const(onnx_pads, "pads")]
        if op == "PadV2":
            args.append(b.const(np.asarray(c[ins[2]], np.float32).reshape(()), "padval"))
        mode = _attr_str(node, "mode", "REFLECT").lower() if op == "MirrorPad" else "constant"
        b.add("Pad", args, [out], mode=mode)
        if op == "Pad" and len(pads) == 4 and b.consumers[out] == 1:
            b.zero_pad_of[out] = (args[0], onnx_pads)
    elif op == "Transpose":
        res = b.transpose(b.name(ins[0]), c[ins[1]].tolist(), out)
        if res != out:
            b.alias[out] = res
    elif op == "ConcatV2":
        b.add("Concat", [b.name(t) for t in ins[:-1]], [out], axis=int(c[ins[-1]]))
    elif op in ("Reshape",):
        b.add("Reshape", [b.name(ins[0]), b.const(c[ins[1]].astype(np.int64), "shape")], [out])
    elif op in ("SplitV", "Split"):
        sizes: NDArray[np.int64] | None = None
        if op == "SplitV":
            sizes, axis, src = c[ins[1]].astype(np.int64), int(c[ins[2]]), ins[0]
        else:
            axis, src = int(c[ins[0]]), ins[1]
        n_out = int(_attr_scalar(node, "num_split", "i", 1))
        outs = [out] + [f"{out[:-2]}:{i}" for i in range(1, n_out)]
        args = [b.name(src)] + ([b.const(sizes, "split")] if sizes is not None else [])
        kw: dict[str, Any] = {"axis": axis}
        if sizes is None:
            kw["num_outputs"] = n_out
        b.add("Split", args, outs, **kw)
    elif op == "ResizeBilinear" or op == "ResizeNearestNeighbor":
        size = c[ins[1]].astype(np.int64)
        if _attr_scalar(node, "align_corners", "b", False):
            mode = "align_corners"
        elif _attr_scalar(node, "half_pixel_centers", "b", False):
            mode = "half_pixel" if op == "ResizeBilinear" else "tf_half_pixel_for_nn"
        else:
            mode = "asymmetric"
        x = b.transpose(b.name(ins[0]), _NHWC_TO_NCHW, b.fresh(f"{out}/nchw"))
        # sizes = shape(x)[:2] ++ (h, w); onnxruntime folds this for static shapes.
        shape_t, head_t, sizes_t, y = (b.fresh(f"{out}/{s}") for s in ("shape", "nc", "sizes", "resize"))
        b.add("Shape", [x], [shape_t])
        b.add("Slice", [shape_t, b.const(np.array([0], np.int64), "s0"), b.const(np.array([2], np.int64), "s1")],
              [head_t])
        b.add("Concat", [head_t, b.const(size, "hw")], [sizes_t], axis=0)
        b.add("Resize", [x, "", "", sizes_t], [y], mode="linear" if op == "ResizeBilinear" else "nearest",
              coordinate_transformation_mode=mode)
        res = b.transpose(y, _NCHW_TO_NHWC, out)
        if res != out:
            b.alias[out] = res
    elif op in ("MaxPool", "AvgPool"):
        if _attr_str(node, "data_format", "NHWC") != "NHWC":
            raise TfjsConversionError(f"{node['name']}: only NHWC pooling is supported")
        k, s = _attr_ints(node, "ksize")[1:3], _attr_ints(node, "strides")[1:3]
        pad = "SAME_UPPER" if _attr_str(node, "padding") == "SAME" else "VALID"
        x = b.transpose(b.name(ins[0]), _NHWC_TO_NCHW, b.fresh(f"{out}/nchw"))
        y = b.fresh(f"{out}/pool")
        b.add("MaxPool" if op == "MaxPool" else "AveragePool", [x], [y], kernel_shape=k, strides=s, auto_pad=pad)
        res = b.transpose(y, _NCHW_TO_NHWC, out)
        if res != out:
            b.alias[out] = res
    elif op == "Softmax":
        b.add("Softmax", [b.name(ins[0])], [out], axis=-1)  # TF's Softmax is over the last axis
    elif op in ("MatMul", "_FusedMatMul"):
        _emit_matmul(b, op, node, ins, out)
    elif op == "Mean":
        axes = np.atleast_1d(c[ins[1]]).astype(np.int64)
        keep = int(bool(_attr_scalar(node, "keep_dims", "b", False)))
        b.add("ReduceMean", [b.name(ins[0]), b.const(axes, "axes")], [out], keepdims=keep)
    else:
        raise TfjsConversionError(f"unsupported TF.js op {op!r} (node {node['name']})")


def _emit_matmul(b: _Builder, op: str, node: dict[str, Any], ins: list[str], out: str) -> None:
    """``MatMul`` / ``_FusedMatMul`` (MatMul + BiasAdd [+ Relu]) → ONNX ``MatMul`` [+ ``Add``, ``Relu``]."""
    c = b.consts
    args: list[str] = []
    for tensor, key in ((ins[0], "transpose_a"), (ins[1], "transpose_b")):
        flip = bool(_attr_scalar(node, key, "b", False))
        if tensor in c:
            value = c[tensor].astype(np.float32)
            args.append(b.const(np.ascontiguousarray(value.T if flip else value), "mm"))
        elif flip:
            args.append(b.transpose(b.name(tensor), (1, 0), b.fresh(f"{out}/{key}")))
        else:
            args.append(b.name(tensor))
    fused = [base64.b64decode(s).decode() for s in node.get("attr", {}).get("fused_ops", {}).get("list", {})
             .get("s", [])] if op == "_FusedMatMul" else []
    steps = [f for f in fused if f != "BiasAdd"]
    if any(f not in ("Relu",) for f in steps) or (fused and fused[0] != "BiasAdd"):
        raise TfjsConversionError(f"{node['name']}: unsupported fused matmul ops {fused!r}")
    tail = out if not fused else b.fresh(f"{out}/matmul")
    b.add("MatMul", args, [tail])
    if "BiasAdd" in fused:
        nxt = out if not steps else b.fresh(f"{out}/bias")
        b.add("Add", [tail, b.const(c[ins[2]].astype(np.float32), "B")], [nxt])
        tail = nxt
    if steps:
        b.add("Relu", [tail], [out])


def _emit_conv(b: _Builder, op: str, node: dict[str, Any], ins: list[str], out: str) -> None:
    if _attr_str(node, "data_format", "NHWC") != "NHWC":
        raise TfjsConversionError(f"{node['name']}: only NHWC convolutions are supported")
    w = b.consts.get(ins[1])
    if w is None:
        raise TfjsConversionError(f"{node['name']}: convolution weights must be constant")
    if op in ("DepthwiseConv2dNative", "FusedDepthwiseConv2dNative"):
        kh, kw, cin, mult = w.shape
        weight = w.reshape(kh, kw, cin * mult).transpose(2, 0, 1)[:, None]  # [C·M, 1, H, W]
        group = cin
    else:
        weight = w.transpose(3, 2, 0, 1)  # HWIO → OIHW
        group = 1
    strides = _attr_ints(node, "strides")[1:3] or [1, 1]
    dil = _attr_ints(node, "dilations")[1:3] or [1, 1]
    padding = _attr_str(node, "padding", "VALID")
    if padding == "EXPLICIT":
        raise TfjsConversionError(f"{node['name']}: explicit conv padding is not supported")
    x = b.transpose(b.name(ins[0]), _NHWC_TO_NCHW, b.fresh(f"{out}/nchw"))
    pad_attr: dict[str, Any] = {"auto_pad": "SAME_UPPER" if padding == "SAME" else "VALID"}
    pad = b.zero_pad_of.get(x)
    if padding == "VALID" and pad is not None and not pad[1][[0, 1, 4, 5]].any():
        # Zero Pad (NCHW) feeding only this conv: fold it into the conv's own pads.
        x = pad[0]
        pad_attr = {"pads": [int(v) for v in pad[1][[2, 3, 6, 7]]]}
    y = b.fresh(f"{out}/conv")
    inputs = [x, b.const(np.ascontiguousarray(weight, np.float32), "W")]
    if op in ("_FusedConv2D", "FusedDepthwiseConv2dNative"):
        fused = [base64.b64decode(s).decode() for s in node["attr"]["fused_ops"]["list"]["s"]]
        if fused and fused[0] == "BiasAdd":
            inputs.append(b.const(b.consts[ins[2]].astype(np.float32), "B"))
            fused = fused[1:]
    else:
        fused = []
    conv = b.add("Conv", inputs, [y], strides=strides, dilations=dil, group=group, **pad_attr)
    tail = y
    for f in fused:
        nxt = b.fresh(f"{out}/{f}")
        if f == "Relu":
            b.add("Relu", [tail], [nxt])
        elif f == "Relu6":
            b.add("Clip", [tail, b.const(np.array(0, np.float32), "lo"), b.const(np.array(6, np.float32), "hi")], [nxt])
        elif f == "LeakyRelu":
            b.add("LeakyRelu", [tail], [nxt], alpha=float(_attr_scalar(node, "leakyrelu_alpha", "f", 0.2)))
        else:
            raise TfjsConversionError(f"{node['name']}: unsupported fused op {f!r}")
        tail = nxt
    res = b.transpose(tail, _NCHW_TO_NHWC, out)
    if res != out:
        b.alias[out] = res
    if not fused:
        b.conv_of[out] = conv


def convert_tfjs_graph(model_json_path: Path, output_names: Sequence[str] | None = None,
                       input_cuts: Mapping[str, Sequence[int]] | None = None) -> bytes:
    """Convert a TF.js graph model to a serialized ONNX model.

    Args:
        model_json_path: the TF.js ``model.json``; weight shards sit next to it.
        output_names: graph outputs (TF node names); defaults to the model's signature
            outputs sorted by name. Naming inner nodes cuts the graph's TF post-processing off.
        input_cuts: inner TF node names → shape: each becomes a float32 graph input (named like
            the node) and what computes it is dropped, cutting off TF pre-processing (casts,
            unstacking) that the caller then does in numpy.

    Returns:
        ONNX ``ModelProto`` bytes (float32 weights, opset 18), identical for identical inputs.

    Raises:
        TfjsConversionError: on an op or attribute this converter does not handle.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model_json = json.loads(model_json_path.read_text(encoding="utf-8"))
    weights = load_tfjs_weights(model_json, model_json_path.parent)
    graph_nodes: list[dict[str, Any]] = model_json["modelTopology"]["node"]
    by_name = {n["name"]: n for n in graph_nodes}

    sig = model_json.get("signature", {})
    if output_names is None:
        output_names = sorted(k.split(":")[0] for k in sig.get("outputs", {}))
    if not output_names:
        raise TfjsConversionError("model has no signature outputs; pass output_names")

    cuts = dict(input_cuts or {})
    missing = [n for n in cuts if n not in by_name]
    if missing:
        raise TfjsConversionError(f"input cut {missing[0]!r} is not a node of the graph")
    consumers: Counter[str] = Counter()
    for n in graph_nodes:
        for i in n.get("input", []):
            if not i.startswith("^"):
                consumers[_ref(i)] += 1

    consts: dict[str, NDArray[Any]] = {}
    b = _Builder(consts=consts, consumers=consumers)
    inputs: list[Any] = []
    visited: set[str] = set()

    def visit(name: str) -> None:
        # Iterative post-order DFS: TF.js graphs are not stored topologically sorted.
        stack: list[tuple[str, bool]] = [(name, False)]
        while stack:
            cur, ready = stack.pop()
            if cur in visited:
                continue
            node = by_name[cur]
            deps = [] if cur in cuts else [i.lstrip("^").split(":")[0] for i in node.get("input", [])]
            if not ready:
                stack.append((cur, True))
                stack.extend((d, False) for d in deps if d not in visited)
                continue
            visited.add(cur)
            _convert_node(node)

    def _convert_node(node: dict[str, Any]) -> None:
        op, name = node["op"], node["name"]
        out = _ref(name)
        ins = [_ref(i) for i in node.get("input", []) if not i.startswith("^")]
        if op == "Const":
            if name not in weights:
                raise TfjsConversionError(f"constant {name} has no weight in the manifest")
            consts[out] = weights[name]
            return
        if name in cuts:
            inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(cuts[name])))
            b.alias[out] = name
            return
        if op == "Placeholder":
            dims = [int(d.get("size", -1)) for d in node["attr"]["shape"]["shape"].get("dim", [])]
            dtype = node["attr"].get("dtype", {}).get("type", "DT_FLOAT")
            elem = {"DT_FLOAT": TensorProto.FLOAT, "DT_INT32": TensorProto.INT32}[dtype]
            inputs.append(helper.make_tensor_value_info(name, elem, [d if d >= 0 else None for d in dims]))
            b.alias[out] = name
            return
        if all(i in consts for i in ins):
            folded = _fold(op, node, [consts[i] for i in ins])
            if folded is not None:
                consts[out] = folded
                return
        _emit(b, op, node, ins, out)

    for out_name in output_names:
        visit(out_name)

    outputs = []
    final_nodes = list(b.nodes)
    for out_name in output_names:
        src = b.name(_ref(out_name))
        final_nodes.append(helper.make_node("Identity", [src], [out_name], name=f"{out_name}/out"))
        dims = sig.get("outputs", {}).get(f"{out_name}:0", {}).get("tensorShape", {}).get("dim")
        shape = [int(d["size"]) if int(d["size"]) >= 0 else None for d in dims] if dims else None
        outputs.append(helper.make_tensor_value_info(out_name, TensorProto.FLOAT, shape))

    live = _prune(final_nodes, output_names)
    used = {i for n in live for i in n.input}
    inits = [numpy_helper.from_array(np.ascontiguousarray(v), k) for k, v in b.initializers.items() if k in used]
    graph = helper.make_graph(live, "tfjs_graph", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="scenewatch.tfjs_to_onnx", producer_version=CONVERTER_VERSION)
    model.ir_version = 8
    if all(o.type.tensor_type.HasField("shape") for o in outputs):
        onnx.checker.check_model(model)
    return bytes(model.SerializeToString(deterministic=True))


def _prune(nodes: list[Any], outputs: Sequence[str]) -> list[Any]:
    """Drop nodes whose outputs nothing needs (left behind by transpose/bias folding)."""
    needed = set(outputs)
    keep: list[Any] = []
    for n in reversed(nodes):
        if any(o in needed for o in n.output):
            keep.append(n)
            needed.update(i for i in n.input if i)
    return list(reversed(keep))

