"""Region tokens: a projector trained on the exported boxes steers a tiny random Qwen2.5-VL per region, in training
and in the full-tier reasoner (``reasoner.region_projector``)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from scenewatch.training.ren import coverage
from tests.training.helpers import dataset_words, tiny_vl


def test_box_coverage_weights_patches_by_area() -> None:
    w = coverage((0.0, 0.0, 32.0, 16.0), 64, 64, grid=4)  # the top-left quarter-width, quarter-height strip
    assert w.shape == (4, 4)
    assert w[0, :2].tolist() == [1.0, 1.0] and w[1:, :].sum() == 0 and w[0, 2:].sum() == 0
    half = coverage((0.0, 0.0, 8.0, 16.0), 64, 64, grid=4)
    assert half[0, 0] == pytest.approx(0.5)
    mask = np.zeros((64, 64), bool)
    mask[:16, :16] = True
    assert coverage(None, 64, 64, 4, mask=mask)[0, 0] == 1.0 and coverage(None, 64, 64, 4, mask=mask).sum() == 1.0


@pytest.fixture(scope="module")
def regions(exported: Path, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A projector trained on the export's regions, saved with its (tiny random SigLIP) encoder."""
    torch = pytest.importorskip("torch", reason="region tokens need torch: pip install 'scenewatch[train]'")
    transformers = pytest.importorskip("transformers")
    from scenewatch.training.ren import (
        RegionEncoder,
        answer_region,
        build_projector,
        region_examples,
        region_token_id,
        save_projector,
        train_regions,
    )

    examples = region_examples(exported)
    model, processor, _ = tiny_vl(dataset_words(exported), init=0.2)  # 0.5 saturates attention: the region is unseen
    torch.manual_seed(0)
    vision = transformers.SiglipVisionModel(transformers.SiglipVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=64,
        patch_size=16))
    encoder = RegionEncoder(vision, image_size=64, patch_size=16)
    text = next(e for e in examples if e.label == "PRIORITY MAIL")
    untrained = build_projector(encoder.dim, 32)
    token = region_token_id(processor, model)
    before = answer_region(model, processor, token, untrained(encoder.pool(text.image, text.box)[None])[0])
    trained = train_regions(model, processor, encoder, examples, steps=25, lr=1e-2)
    out = tmp_path_factory.mktemp("ren")
    vision.save_pretrained(out / "siglip")  # the encoder folder recorded beside the projector
    save_projector(trained.projector, out / "adapter", encoder=out / "siglip")
    return SimpleNamespace(examples=examples, model=model, processor=processor, encoder=encoder, before=before,
                           trained=trained, folder=out / "adapter", text=text,
                           moving=next(e for e in examples if e.label == "motion"))


def _ask(r: SimpleNamespace, projector: Any, ex: Any) -> str:
    import torch

    from scenewatch.training.ren import answer_region

    with torch.no_grad():
        vector = projector(r.encoder.pool(ex.image, ex.box)[None])[0]
        return answer_region(r.model, r.processor, r.trained.token_id, vector)


def test_region_projector_trains_and_changes_the_answer_for_a_region(regions: SimpleNamespace) -> None:
    from scenewatch.training.ren import load_projector

    assert {"PRIORITY MAIL", "motion"} <= {e.label for e in regions.examples}  # the parcel's label, moving areas
    losses = regions.trained.losses
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5]) and losses[-1] < 0.75 * losses[0]
    after_text, after_moving = _ask(regions, regions.trained.projector, regions.text), _ask(
        regions, regions.trained.projector, regions.moving)
    assert after_text != regions.before  # the projector changed what the model says about this region
    assert after_text != after_moving  # and it tells two regions apart
    assert _ask(regions, load_projector(regions.folder), regions.text) == after_text


def test_reasoner_reads_a_region_as_training_does(regions: SimpleNamespace) -> None:
    import torch

    from scenewatch.reasoning.reasoners import Message
    from scenewatch.reasoning.reasoners.qwen_vl import QwenVLReasoner
    from scenewatch.reasoning.settings import ReasonerSettings
    from scenewatch.training.ren import REGION_TOKEN, Region, _embeds, _prompt_ids
    from scenewatch.types import Evidence

    settings = ReasonerSettings(backend="qwen-vl", model="unused", region_projector=str(regions.folder))
    reasoner = QwenVLReasoner(settings, model=regions.model, processor=regions.processor)  # encoder loaded from disk
    question = f"What is {REGION_TOKEN}?"
    text, moving = regions.text, regions.moving
    said_text = reasoner.ask_region(question, text.image, text.box, max_tokens=6)
    said_moving = reasoner.ask_region(question, moving.image, moving.box, max_tokens=6)
    assert said_text != said_moving  # two regions, two answers
    assert said_text.strip() == _ask(regions, regions.trained.projector, text)  # what training's forward pass says
    assert said_moving.strip() == _ask(regions, regions.trained.projector, moving)

    # The same next-token logits as training's forward pass, not just the same greedy words.
    region = Region(text.image, text.box)
    inputs = reasoner._inputs([Message("user", question)], None, [])
    with torch.no_grad():
        with reasoner.regions_inserted([region]):
            served = regions.model(**inputs).logits[0, -1]
        vector = regions.trained.projector(regions.encoder.pool(text.image, text.box)[None])
        ids = _prompt_ids(regions.processor, question)
        trained = regions.model(inputs_embeds=_embeds(regions.model, ids, regions.trained.token_id, vector)).logits
        plain = regions.model(**inputs).logits[0, -1]  # the placeholder's own embedding, no region
    assert torch.allclose(served, trained[0, -1], atol=1e-5)
    assert not torch.allclose(served, plain, atol=1e-3)

    # An answer's evidence box is a region; a question without a placeholder gets one appended.
    evidence = Evidence(observation_id=1, kind="text", start=0.0, end=1.0, box=text.box)
    cited = reasoner.region_of(evidence, text.image)
    assert reasoner.complete([Message("user", "Name")], max_tokens=6, regions=[cited]) == reasoner.complete(
        [Message("user", f"Name {REGION_TOKEN}")], max_tokens=6, regions=[region])
    # With the frame shown as an image too, the region token still reaches the model and steers it.
    shown = reasoner._inputs([Message("user", question)], None, [text.image])
    with torch.no_grad():
        per_region = []
        for ex in (text, moving):
            with reasoner.regions_inserted([Region(text.image, ex.box)]):
                per_region.append(regions.model(**shown).logits[0, -1])
    assert not torch.allclose(per_region[0], per_region[1], atol=1e-3)
    assert isinstance(reasoner.complete([Message("user", question)], max_tokens=3, images=[text.image],
                                        regions=[region]), str)
    with pytest.raises(ValueError, match="placeholder"):
        reasoner.complete([Message("user", f"{question} {question}")], regions=[region])


def test_a_region_question_without_a_projector_is_a_clear_error(regions: SimpleNamespace) -> None:
    from scenewatch.errors import BackendUnavailable
    from scenewatch.reasoning.reasoners.qwen_vl import QwenVLReasoner
    from scenewatch.training.ren import REGION_TOKEN

    reasoner = QwenVLReasoner(model=regions.model, processor=regions.processor)
    with pytest.raises(BackendUnavailable, match="region_projector"):
        reasoner.ask_region(f"What is {REGION_TOKEN}?", regions.text.image, regions.text.box)
