"""Region tokens: a projector trained on the exported boxes steers a tiny random Qwen2.5-VL per region."""

from __future__ import annotations

from pathlib import Path

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


def test_region_projector_trains_and_changes_the_answer_for_a_region(exported: Path, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason="region tokens need torch: pip install 'scenewatch[train]'")
    transformers = pytest.importorskip("transformers")
    from scenewatch.training.ren import (
        RegionEncoder,
        answer_region,
        build_projector,
        load_projector,
        region_examples,
        region_token_id,
        save_projector,
        train_regions,
    )

    examples = region_examples(exported)
    labels = {e.label for e in examples}
    assert {"PRIORITY MAIL", "motion"} <= labels  # the label read on the parcel and the moving areas
    model, processor, _ = tiny_vl(dataset_words(exported), init=0.2)  # 0.5 saturates attention: the region is unseen
    torch.manual_seed(0)
    vision = transformers.SiglipVisionModel(transformers.SiglipVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=64,
        patch_size=16))
    encoder = RegionEncoder(vision, image_size=64, patch_size=16)
    text = next(e for e in examples if e.label == "PRIORITY MAIL")
    moving = next(e for e in examples if e.label == "motion")
    untrained = build_projector(encoder.dim, 32)
    token = region_token_id(processor, model)
    before = answer_region(model, processor, token, untrained(encoder.pool(text.image, text.box)[None])[0])

    trained = train_regions(model, processor, encoder, examples, steps=25, lr=1e-2)
    losses = trained.losses
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5]) and losses[-1] < 0.75 * losses[0]

    def ask(projector, ex):  # type: ignore[no-untyped-def]
        with torch.no_grad():
            return answer_region(model, processor, trained.token_id, projector(encoder.pool(ex.image, ex.box)[None])[0])

    after_text, after_moving = ask(trained.projector, text), ask(trained.projector, moving)
    assert after_text != before  # the projector changed what the model says about this region
    assert after_text != after_moving  # and it tells two regions apart
    save_projector(trained.projector, tmp_path)
    assert ask(load_projector(tmp_path), text) == after_text
