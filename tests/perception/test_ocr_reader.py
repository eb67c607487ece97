"""Text readers on real fixtures: accuracy (1 - CER), regions of interest, layout, bad input."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from ocr_helpers import cer, draw_text, reader

from scenewatch.errors import SourceError, UnknownBackend
from scenewatch.perception.ocr import TEXT_READERS, TextReader, build_reader
from scenewatch.perception.ocr.images import load_image
from scenewatch.perception.ocr.read import read_path
from scenewatch.perception.ocr.settings import OcrSettings

FIXT = Path(__file__).parents[1] / "fixtures"
MANIFEST = {e["path"]: e for e in json.loads((FIXT / "manifest.json").read_text())}
CLEAN = [
    "ocr/tesseract_phototest.tif",
    "ocr/rapidocr_en_rec.jpg",
    "ocr/rapidocr_issue_170.png",
    "ocr/rapidocr_latin.jpg",
    "ocr/rapidocr_trend_plot_report.png",
    "ocr/rapidocr_text_rec.jpg",
    "ocr/rapidocr_black_font_color_transparent.png",
]


def _read_file(path: Path, backend: str = "rapidocr") -> list[str]:
    return [r.text for r in reader(backend).read(load_image(path))]


@pytest.mark.parametrize("rel", CLEAN)
def test_clean_fixtures_read_exactly(rel: str) -> None:
    expected = MANIFEST[rel]["text"]
    lines = _read_file(FIXT / rel)
    got = "\n".join(lines)
    assert 1 - cer(got, expected) >= 0.95, (got, expected)
    want_lines = [line for line in expected.split("\n") if line.strip()]
    assert lines == want_lines


def test_multilingual_poster_first_line_and_reading_order() -> None:
    lines = _read_file(FIXT / "ocr" / "rapidocr_ch_en_num.jpg")
    assert lines[0] == MANIFEST["ocr/rapidocr_ch_en_num.jpg"]["text_first_line"]
    assert len(lines) >= 10


@pytest.mark.parametrize("rel", ["ocr/tesseract_phototest.tif", "ocr/rapidocr_latin.jpg", "ocr/rapidocr_issue_170.png"])
def test_fast_profile_reads_clean_fixtures(rel: str) -> None:
    pytest.importorskip("rapidocr_onnxruntime", reason="rapidocr-onnxruntime 1.4.4 not installed")
    got = "\n".join(_read_file(FIXT / rel, "rapidocr-fast"))
    assert 1 - cer(got, MANIFEST[rel]["text"]) >= 0.95, got


def test_registry_and_protocol() -> None:
    assert {"rapidocr", "rapidocr-fast", "trocr"} <= set(TEXT_READERS.names())
    assert isinstance(reader(), TextReader)
    with pytest.raises(UnknownBackend, match="unknown text reader 'nope'; choose one of"):
        build_reader(OcrSettings(backend="nope"))


def test_two_column_page_is_read_column_by_column() -> None:
    left = ["apples are red", "lemons are yellow", "plums are purple"]
    right = ["cars drive fast", "boats float well", "trains run late"]
    lines = [("FRUIT AND TRAFFIC", (40, 20))]
    lines += [(t, (20, 90 + 40 * i)) for i, t in enumerate(left)]
    lines += [(t, (330, 90 + 40 * i)) for i, t in enumerate(right)]
    img = np.asarray(draw_text(lines, (600, 240), font_px=20))
    got = [r.text for r in reader().read(img)]
    assert got == ["FRUIT AND TRAFFIC", *left, *right]


def test_region_of_interest_reads_same_text_in_frame_coordinates(scene_truth: dict) -> None:
    import av

    with av.open(str(FIXT / "scene" / "scene.mp4")) as c:
        frame = next(f for f in c.decode(video=0) if f.time >= 12.0).to_ndarray(format="rgb24")
    truth = scene_truth["text"][0]
    full = reader().read(frame)
    roi = reader().read(frame, np.array([[350, 172, 600, 322]], np.float32))
    assert [r.text for r in full] == [r.text for r in roi] == [truth["text"]]
    tx1, ty1, tx2, ty2 = truth["rest_text_box"]
    for r in (full[0], roi[0]):
        x1, y1, x2, y2 = r.box
        inter = max(0, min(x2, tx2) - max(x1, tx1)) * max(0, min(y2, ty2) - max(y1, ty1))
        assert inter / ((tx2 - tx1) * (ty2 - ty1)) > 0.95  # covers the glyphs
        assert (x2 - x1) < 1.2 * (tx2 - tx1) and (y2 - y1) < 2.5 * (ty2 - ty1)  # and not much more
    assert np.abs(full[0].box - roi[0].box).max() <= 6


def test_small_text_region_is_upscaled_and_read() -> None:
    img = np.asarray(draw_text([("EXIT 42", (205, 112))], (480, 270), font_px=11))
    got = reader().read(img, np.array([[200, 108, 260, 128]], np.float32))
    assert [r.text for r in got] == ["EXIT 42"]
    assert 200 <= got[0].box[0] < got[0].box[2] <= 262


def test_regions_outside_or_tiny_read_nothing() -> None:
    img = np.asarray(draw_text([("HELLO", (10, 10))], (200, 60)))
    assert reader().read(img, np.array([[500, 500, 600, 600], [5, 5, 8, 8]], np.float32)) == []
    assert reader().read(img, np.zeros((0, 4), np.float32)) == []


def test_many_regions_are_bounded() -> None:
    settings = OcrSettings(max_regions=2)
    r = reader()
    old = r.settings
    r.settings = settings
    try:
        img = np.asarray(draw_text([(f"W{i}", (10 + 60 * i, 10)) for i in range(8)], (500, 50)))
        regions = np.array([[5 + 60 * i, 5, 55 + 60 * i, 45] for i in range(8)], np.float32)
        got = r.read(img, regions)
    finally:
        r.settings = old
    assert 1 <= len(got) <= 2


# ---------------------------------------------------------------- bad input
def test_one_pixel_image_is_a_clear_error(tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (1, 1), "white").save(tmp_path / "dot.png")
    with pytest.raises(SourceError, match=r"1x1 px is too small to hold readable text"):
        read_path(tmp_path / "dot.png")
    assert reader().read(np.zeros((1, 1, 3), np.uint8)) == []


def test_huge_image_is_bounded(tmp_path: Path) -> None:
    from ocr_helpers import FONT
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("L", (10_000, 10_000), 255)
    ImageDraw.Draw(img).text((800, 4000), "GIANT SIGN", fill=0, font=ImageFont.truetype(str(FONT), 900))
    img.save(tmp_path / "huge.png", optimize=False, compress_level=1)
    del img
    t0 = time.perf_counter()
    got = [o.text for o in read_path(tmp_path / "huge.png")]
    assert time.perf_counter() - t0 < 60
    assert got == ["GIANT SIGN"]


def test_not_an_image_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "fake.png").write_bytes(b"not a png at all")
    with pytest.raises(SourceError, match=r"cannot decode image fake\.png"):
        read_path(tmp_path / "fake.png")
    with pytest.raises(SourceError, match="no such file"):
        read_path(tmp_path / "missing.jpg")


@pytest.mark.parametrize("kind", ["cmyk", "16bit", "gif", "rgba", "palette"])
def test_odd_image_formats_are_read(tmp_path: Path, kind: str) -> None:
    from PIL import Image

    base = draw_text([("PARCEL 7731", (20, 30))], (320, 100), font_px=28)
    if kind == "cmyk":
        path = tmp_path / "t.jpg"
        base.convert("CMYK").save(path, quality=95)
    elif kind == "16bit":
        path = tmp_path / "t.png"
        grey = (np.asarray(base.convert("L")).astype(np.uint16) * 257)
        Image.fromarray(grey).save(path)
        assert Image.open(path).mode.startswith("I")
    elif kind == "gif":
        path = tmp_path / "t.gif"
        other = draw_text([("SECOND FRAME", (20, 30))], (320, 100), font_px=28)
        base.save(path, save_all=True, append_images=[other], duration=200, loop=0)
    elif kind == "rgba":
        path = tmp_path / "t.png"
        rgba = np.zeros((100, 320, 4), np.uint8)
        rgba[..., 3] = 255 - np.asarray(base.convert("L"))  # black text on a transparent page
        Image.fromarray(rgba, "RGBA").save(path)
    else:
        path = tmp_path / "t.png"
        base.convert("P", palette=Image.Palette.ADAPTIVE, colors=4).save(path)
    assert [o.text for o in read_path(path)] == ["PARCEL 7731"]


@pytest.mark.parametrize("angle", [90, 180, 270])
def test_rotated_text_is_read(angle: int) -> None:
    img = draw_text([("ROTATED LABEL", (20, 20))], (300, 80), font_px=28).rotate(angle, expand=True)
    got = [r.text for r in reader().read(np.asarray(img))]
    assert got == ["ROTATED LABEL"]


def test_no_text_gives_nothing(fixtures: Path) -> None:
    rng = np.random.default_rng(0)
    smooth = np.repeat(np.repeat(rng.integers(0, 255, (9, 16, 3), np.uint8), 40, 0), 40, 1)
    assert reader().read(smooth) == []
    assert reader().read(np.full((200, 300, 3), 127, np.uint8)) == []
