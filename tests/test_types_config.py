"""Types validate on construction; the config tree rejects typos with one clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scenewatch.config import load_config
from scenewatch.errors import ConfigError, UnknownBackend
from scenewatch.registry import Registry
from scenewatch.types import AudioChunk, Detections, Frame, Observation


def test_frame_rejects_bad_image() -> None:
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        Frame(np.zeros((4, 4), np.uint8), 0.0, "s")
    with pytest.raises(ValueError):
        Frame(np.zeros((4, 4, 3), np.float32), 0.0, "s")  # type: ignore[arg-type]
    assert Frame(np.zeros((4, 6, 3), np.uint8), 1.5, "s").width == 6


def test_detections_validate_and_subset() -> None:
    d = Detections(np.array([[0, 0, 10, 10], [5, 5, 20, 20]], np.float32), np.array([0.9, 0.2], np.float32),
                   ("person", "dog"))
    assert d.track_ids is not None and d.track_ids.tolist() == [-1, -1]
    sub = d.subset(d.scores > 0.5)
    assert len(sub) == 1 and sub.labels == ("person",)
    with pytest.raises(ValueError, match="xyxy"):
        Detections(np.zeros((2, 3), np.float32), np.zeros(2, np.float32), ("a", "b"))


def test_audio_and_observation_validation() -> None:
    a = AudioChunk(np.zeros(16000, np.float32), 2.0, "s")
    assert a.end == pytest.approx(3.0)
    with pytest.raises(ValueError):
        AudioChunk(np.zeros((2, 10), np.float32), 0.0, "s")
    with pytest.raises(ValueError, match="before start"):
        Observation(kind="sound", source_id="s", start=3.0, end=2.0)
    with pytest.raises(ValueError, match="unknown observation kind"):
        Observation(kind="smell", source_id="s", start=0, end=1)  # type: ignore[arg-type]


def test_config_layers_file_env_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg_file = tmp_path / "sw.yaml"
    cfg_file.write_text("perception:\n  asr:\n    model: base\n    beam_size: 2\nconcepts: [package]\n")
    monkeypatch.setenv("SCENEWATCH_PERCEPTION__ASR__BEAM_SIZE", "3")
    monkeypatch.setenv("SCENEWATCH_DB", str(tmp_path / "x.db"))
    cfg = load_config(cfg_file, {"perception": {"asr": {"language": "en"}}})
    assert cfg.perception.asr.model == "base"  # file
    assert cfg.perception.asr.beam_size == 3  # env beats file
    assert cfg.perception.asr.language == "en"  # flags
    assert cfg.store.path == tmp_path / "x.db"
    assert cfg.concepts == ["package"]
    toml = tmp_path / "sw.toml"
    toml.write_text('[ingest.keyframes]\nfloor_fps = 2.0\n')
    assert load_config(toml).ingest.keyframes.floor_fps == 2.0


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"perception": {"asr": {"bogus": 1}}}, "unknown key 'perception.asr.bogus'; allowed keys: backend"),
        ({"ingest": {"keyframes": {"floor_fps": 0}}}, "ingest.keyframes.floor_fps: Input should be greater than 0"),
        ({"perception": {"asr": {"compute_type": "int4"}}}, "perception.asr.compute_type"),
    ],
)
def test_config_errors_name_the_key(data: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(None, data)
    assert needle in str(err.value)
    assert "\n" not in str(err.value)


def test_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("perception: [unclosed\n")
    with pytest.raises(ConfigError, match="cannot parse"):
        load_config(bad)


def test_registry_lazy_and_unknown() -> None:
    reg: Registry[object] = Registry("thing", {"json": "json:dumps"})
    assert reg.names() == ["json"]
    import json

    assert reg.get("json") is json.dumps
    with pytest.raises(UnknownBackend, match="unknown thing 'nope'; choose one of: json"):
        reg.get("nope")


def test_import_is_light() -> None:
    code = ("import sys, scenewatch, scenewatch.config, scenewatch.runtime.pipeline, scenewatch.cli.main;"
            "heavy={'torch','transformers','onnxruntime','faster_whisper','rapidocr','xllamacpp','ctranslate2'};"
            "print(sorted(heavy & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
