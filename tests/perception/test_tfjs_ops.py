"""Per-op checks of the TF.js → ONNX converter against numpy, on tiny graphs built here."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from scenewatch.perception.detect.tfjs_to_onnx import TfjsConversionError, convert_tfjs_graph  # noqa: E402

RNG = np.random.default_rng(17)


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def _graph(tmp_path: Path, nodes: list[dict[str, Any]], consts: dict[str, np.ndarray],
           in_shape: list[int]) -> Path:
    """Write a model.json + weights.bin with input ``x`` (float32, ``in_shape``) and the given nodes."""
    specs, blobs = [], []
    for name, value in consts.items():
        arr = np.ascontiguousarray(value, np.float32)
        specs.append({"name": name, "shape": list(arr.shape), "dtype": "float32"})
        blobs.append(arr.tobytes())
    (tmp_path / "w.bin").write_bytes(b"".join(blobs))
    dims = [{"size": str(d)} for d in in_shape]
    topo = [{"name": "x", "op": "Placeholder",
             "attr": {"dtype": {"type": "DT_FLOAT"}, "shape": {"shape": {"dim": dims}}}}]
    topo += [{"name": n, "op": "Const", "attr": {}} for n in consts]
    topo += nodes
    model = {"modelTopology": {"node": topo}, "weightsManifest": [{"paths": ["w.bin"], "weights": specs}]}
    path = tmp_path / "model.json"
    path.write_text(json.dumps(model))
    return path


def _run(path: Path, out: str, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(convert_tfjs_graph(path, [out]), providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, {"x": x})
    return np.asarray(y)


@pytest.mark.parametrize(("op", "ref"), [("Minimum", np.minimum), ("Maximum", np.maximum)])
def test_minimum_maximum_with_constant_and_tensor(tmp_path: Path, op: str, ref: Any) -> None:
    x = RNG.normal(size=(1, 4, 4, 3)).astype(np.float32)
    k = np.array(0.25, np.float32)
    nodes = [{"name": "a", "op": op, "input": ["x", "k"]},      # tensor ∘ scalar constant
             {"name": "y", "op": op, "input": ["a", "x"]}]      # tensor ∘ tensor
    y = _run(_graph(tmp_path, nodes, {"k": k}, [1, 4, 4, 3]), "y", x)
    np.testing.assert_allclose(y, ref(ref(x, k), x), rtol=1e-6)


def test_clip_as_minimum_of_maximum_is_relu6(tmp_path: Path) -> None:
    x = (RNG.normal(size=(1, 8)) * 8).astype(np.float32)
    nodes = [{"name": "lo", "op": "Maximum", "input": ["x", "zero"]},
             {"name": "y", "op": "Minimum", "input": ["lo", "six"]}]
    consts = {"zero": np.array(0, np.float32), "six": np.array(6, np.float32)}
    y = _run(_graph(tmp_path, nodes, consts, [1, 8]), "y", x)
    np.testing.assert_allclose(y, np.clip(x, 0, 6))
    assert (y == 6).any() and (y == 0).any()


def test_softmax_over_last_axis(tmp_path: Path) -> None:
    x = (RNG.normal(size=(2, 100)) * 3).astype(np.float32)
    y = _run(_graph(tmp_path, [{"name": "y", "op": "Softmax", "input": ["x"]}], {}, [2, 100]), "y", x)
    e = np.exp(x - x.max(-1, keepdims=True))
    np.testing.assert_allclose(y, e / e.sum(-1, keepdims=True), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(("fused", "transpose_b"), [(["BiasAdd"], False), (["BiasAdd", "Relu"], False),
                                                    (["BiasAdd", "Relu"], True), ([], False)])
def test_fused_matmul(tmp_path: Path, fused: list[str], transpose_b: bool) -> None:
    x = RNG.normal(size=(3, 16)).astype(np.float32)
    w = RNG.normal(size=(16, 5)).astype(np.float32)
    bias = RNG.normal(size=(5,)).astype(np.float32)
    node: dict[str, Any] = {
        "name": "y", "op": "_FusedMatMul" if fused else "MatMul", "input": ["x", "w"] + (["b"] if fused else []),
        "attr": {"transpose_a": {"b": False}, "transpose_b": {"b": transpose_b},
                 "fused_ops": {"list": {"s": [_b64(f) for f in fused]}}},
    }
    consts = {"w": w.T if transpose_b else w, "b": bias}
    y = _run(_graph(tmp_path, [node], consts, [3, 16]), "y", x)
    want = x @ w + (bias if fused else 0)
    if "Relu" in fused:
        want = np.maximum(want, 0)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)


def test_fused_matmul_with_unknown_fused_op_is_refused(tmp_path: Path) -> None:
    node = {"name": "y", "op": "_FusedMatMul", "input": ["x", "w", "b"],
            "attr": {"fused_ops": {"list": {"s": [_b64("BiasAdd"), _b64("Elu")]}}}}
    consts = {"w": np.ones((4, 2), np.float32), "b": np.zeros(2, np.float32)}
    with pytest.raises(TfjsConversionError, match="Elu"):
        convert_tfjs_graph(_graph(tmp_path, [node], consts, [1, 4]), ["y"])


def test_fused_depthwise_conv_with_bias_and_relu6(tmp_path: Path) -> None:
    x = RNG.normal(size=(1, 6, 7, 3)).astype(np.float32) * 3
    w = RNG.normal(size=(3, 3, 3, 1)).astype(np.float32)  # H, W, C, multiplier
    bias = RNG.normal(size=(3,)).astype(np.float32)
    node = {"name": "y", "op": "FusedDepthwiseConv2dNative", "input": ["x", "w", "b"],
            "attr": {"padding": {"s": _b64("VALID")}, "strides": {"list": {"i": ["1", "1", "1", "1"]}},
                     "fused_ops": {"list": {"s": [_b64("BiasAdd"), _b64("Relu6")]}}}}
    y = _run(_graph(tmp_path, [node], {"w": w, "b": bias}, [1, 6, 7, 3]), "y", x)
    want = np.zeros((1, 4, 5, 3), np.float32)
    for i in range(4):
        for j in range(5):
            want[0, i, j] = (x[0, i:i + 3, j:j + 3, :] * w[:, :, :, 0]).sum((0, 1))
    np.testing.assert_allclose(y, np.clip(want + bias, 0, 6), rtol=1e-5, atol=1e-5)


def test_input_cut_replaces_the_preprocessing(tmp_path: Path) -> None:
    nodes = [{"name": "pre", "op": "Unpack", "input": ["x"]},  # an op the converter does not map…
             {"name": "y", "op": "Mul", "input": ["pre", "k"]}]
    path = _graph(tmp_path, nodes, {"k": np.array(2.5, np.float32)}, [1, 4])
    with pytest.raises(TfjsConversionError, match="Unpack"):
        convert_tfjs_graph(path, ["y"])
    data = convert_tfjs_graph(path, ["y"], input_cuts={"pre": [4]})  # …cut off: "pre" is the input
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["pre"]
    v = np.arange(4, dtype=np.float32)
    np.testing.assert_allclose(sess.run(None, {"pre": v})[0], v * 2.5)
    with pytest.raises(TfjsConversionError, match="not a node"):
        convert_tfjs_graph(path, ["y"], input_cuts={"nope": [4]})
