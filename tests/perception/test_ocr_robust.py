"""Reading what plain rapidocr reads, and more: small crops, pages turned 180°, CJK, and clean video rows."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from ocr_helpers import cer, draw_text, read_video, reader, write_video

from scenewatch.perception.ocr.images import load_image
from scenewatch.perception.ocr.merge import is_text
from scenewatch.perception.ocr.settings import OcrSettings
from synth.text import turned_page, word_crop

FIXT = Path(__file__).parents[1] / "fixtures"
PHOTOTEST = ("This is a lot of 12 point text to test the ocr code and see if it works on all types of file format. "
             "The quick brown dog jumped over the lazy fox. The quick brown dog jumped over the lazy fox. "
             "The quick brown dog jumped over the lazy fox. The quick brown dog jumped over the lazy fox.")


def _text(image: np.ndarray) -> str:
    return " ".join(r.text for r in reader().read(image))


@pytest.mark.parametrize("seed", [200, 201, 202, 203, 204, 205])
def test_small_word_crops_are_read(seed: int) -> None:
    image, truth = word_crop(seed)  # text 11-18 px high, crops of a few dozen pixels
    assert min(image.shape[:2]) < 32
    assert cer(_text(image), truth) <= 0.15, (truth, _text(image))


def test_page_turned_180_is_read_in_order() -> None:
    page = load_image(FIXT / "ocr" / "tesseract_phototest.tif")[::-1, ::-1].copy()
    lines = reader().read(page)
    assert cer(" ".join(r.text for r in lines), PHOTOTEST) <= 0.05
    # Boxes stay on the image as given: the first line (read first) lies at the bottom of the turned page.
    assert lines[0].box[1] > page.shape[0] / 2 and lines[-1].box[3] < page.shape[0] / 2
    image, truth = turned_page(210)
    assert cer(_text(image), truth) <= 0.05


def test_upright_pages_are_not_turned() -> None:
    page = load_image(FIXT / "ocr" / "tesseract_phototest.tif")
    assert cer(_text(page), PHOTOTEST) <= 0.05


@pytest.mark.parametrize(("name", "truth"), [("rapidocr_text_rec.jpg", "韩国小馆"),
                                             ("rapidocr_black_font_color_transparent.png", "我是中国人")])
def test_small_cjk_signs_are_read(name: str, truth: str) -> None:
    small = load_image(FIXT / "ocr" / name)[::4, ::4].copy()  # a quarter of the size: a far sign
    assert cer(_text(small), truth) <= 0.25, _text(small)


def test_symbols_and_short_fragments_are_not_text() -> None:
    assert not is_text("●") and not is_text("O") and not is_text("•-•") and not is_text("FR")
    assert is_text("EXIT") and is_text("B 17") and is_text("出口处")


def test_label_sliding_in_is_one_row_and_no_fragments(tmp_path: Path) -> None:
    """A label slides in from the right edge (read as "FR…", "FRAGI…" first); a dot and a lone "O" sit nearby."""
    fps, seconds, (w, h) = 5, 10.0, (480, 200)
    label = np.asarray(draw_text([("FRAGILE 4417", (8, 6))], (200, 40), font_px=22))
    dot = np.asarray(draw_text([("●", (2, 0))], (24, 24), font_px=16, bg=(90, 100, 110), fg=(240, 240, 240)))
    frames = []
    for i in range(int(seconds * fps)):
        t = i / fps
        img = np.full((h, w, 3), (90, 100, 110), np.uint8)
        img[20:44, 30:54] = dot
        x = w - int(min(t, 2.0) / 2.0 * 240)  # slides in over 2 s, then stays
        visible = img[120:160, x:min(w, x + 200)]
        visible[:] = label[:, : visible.shape[1]]
        frames.append(img)
    write_video(tmp_path / "slide.mp4", frames, fps)
    obs = read_video(tmp_path / "slide.mp4", OcrSettings(video_fps=2.0), reader=reader())
    assert [o.text for o in obs] == ["FRAGILE 4417"], [(o.text, o.start) for o in obs]
    assert obs[0].start <= 2.5
    assert all(len("".join(o.text.split())) >= 3 for o in obs)
