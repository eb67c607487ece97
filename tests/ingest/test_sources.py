"""Sources on real and synthetic media, and every kind of bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from scenewatch.errors import SourceError
from scenewatch.ingest.audio import iter_audio, load_audio
from scenewatch.ingest.keyframes import KeyframeSampler, changed_cell_boxes
from scenewatch.ingest.settings import IngestSettings, KeyframeSettings
from scenewatch.ingest.sources import Gap, VideoItem, expand_sources
from scenewatch.types import AudioChunk


def _items(uri: Path | str, **kw: object) -> tuple[list[VideoItem], list[AudioChunk]]:
    src = expand_sources(str(uri))[0]
    video, audio = [], []
    for it in src.items(**kw):  # type: ignore[arg-type]
        if isinstance(it, VideoItem):
            video.append(it)
        elif isinstance(it, AudioChunk):
            audio.append(it)
    return video, audio


def test_scene_fixture_frames_and_audio_cover_the_timeline(fixtures: Path, scene_truth: dict) -> None:
    video, audio = _items(fixtures / "scene" / "scene.mp4")
    assert len(video) == 750  # every frame, including the decoder's delayed tail
    pts = np.array([v.pts for v in video])
    assert pts[0] == 0.0 and np.allclose(np.diff(pts), 0.04, atol=1e-6)
    assert all(a.sample_rate == 16000 and a.samples.dtype == np.float32 for a in audio)
    starts = np.array([a.start for a in audio])
    assert np.allclose(np.diff(starts), 1.0, atol=1e-3)  # contiguous 1 s chunks
    assert audio[-1].end == pytest.approx(30.0, abs=0.05)
    frame = video[0].to_frame()
    assert frame.image.shape == (360, 640, 3)


def test_audio_is_aligned_to_video(synthetic_video: tuple[Path, dict]) -> None:
    path, truth = synthetic_video
    audio = load_audio(path)
    env = np.abs(audio.samples).reshape(-1, 160).mean(axis=1)  # 10 ms envelope
    on = np.flatnonzero(env > 0.1) * 0.01 + audio.start
    assert on[0] == pytest.approx(truth["tone"][0], abs=0.05)
    assert on[-1] == pytest.approx(truth["tone"][1], abs=0.05)


def test_keyframes_find_motion_cut_and_floor(synthetic_video: tuple[Path, dict]) -> None:
    path, truth = synthetic_video
    video, _ = _items(path)
    sampler = KeyframeSampler(KeyframeSettings(), 320, 180)
    kfs = [(v.pts, r) for v in video if (r := sampler.consider(v.thumbnail(160), v.pts))]
    reasons = {t: r[0] for t, r in kfs}
    cuts = [t for t, r in reasons.items() if r == "scene"]
    assert cuts == [pytest.approx(truth["cut"], abs=0.05)]
    change = [t for t, r in reasons.items() if r == "change"]
    assert change and min(change) == pytest.approx(truth["motion"][0], abs=0.25)
    assert max(change) == pytest.approx(truth["motion"][1], abs=0.25)
    times = sorted(reasons)
    assert max(np.diff(times)) <= 1.0 + 0.05  # floor rate: never a gap over 1 s
    assert len(kfs) < len(video) / 5  # few frames reach the stages


def test_thumbnail_is_ffmpegs_grey_scaling(fixtures: Path) -> None:
    """The reused scalers give the same pixels as a fresh ``reformat`` of each frame (sizes may change),
    grey thumbnails and RGB keyframes alike."""
    for clip in ("scene/scene.mp4", "video/sam2_bedroom.mp4"):
        video, _ = _items(fixtures / clip)
        for item in video[::25]:
            fresh = item.av_frame.reformat(width=160, height=90, format="gray").to_ndarray()
            assert np.array_equal(item.thumbnail(160), fresh)
            assert np.array_equal(item.to_frame().image, item.av_frame.to_ndarray(format="rgb24"))


def test_frames_not_due_are_never_keyframes(synthetic_video: tuple[Path, dict]) -> None:
    """``due`` skips frames ``consider`` need not look at: within ``min_gap`` of a keyframe nothing
    can be one, and after a calm look a change shows at most ``CALM_SKIP`` later; floor keyframes
    fall on the same frames."""
    from scenewatch.ingest.keyframes import CALM_SKIP

    path, _ = synthetic_video
    video, _ = _items(path)
    every, lazy = KeyframeSampler(KeyframeSettings(), 320, 180), KeyframeSampler(KeyframeSettings(), 320, 180)
    full_kf, lazy_kf = [], []
    looked = 0
    for v in video:
        full = every.consider(v.thumbnail(160), v.pts)
        if full is not None:
            full_kf.append((v.pts, full[0]))
        if lazy.due(v.pts):
            looked += 1
            got = lazy.consider(v.thumbnail(160), v.pts)
            if got is not None:
                lazy_kf.append((v.pts, got[0]))
    assert len(lazy_kf) == len(full_kf)
    for (t_full, why_full), (t_lazy, why_lazy) in zip(full_kf, lazy_kf, strict=True):
        assert t_full <= t_lazy <= t_full + CALM_SKIP + 1e-6
        assert why_full != "floor" or (why_lazy, t_lazy) == ("floor", t_full)
    assert looked < 0.7 * len(video)


def test_a_change_after_a_calm_look_is_caught_one_frame_later_at_most() -> None:
    """On a still picture most frames are not looked at; a cut right after a calm look is a
    keyframe on the next looked-at frame, and floor keyframes stay on the floor rate."""
    rng = np.random.default_rng(5)
    base = rng.integers(60, 200, (90, 160), dtype=np.uint8)
    s = KeyframeSampler(KeyframeSettings(), 640, 360)
    looks, keyframes = 0, []
    for i in range(150):  # 6 s at 25 fps; the picture changes at frame 88 (3.52 s)
        t = i / 25
        picture = base if i < 88 else 255 - base
        noisy = np.clip(picture.astype(np.int16) + rng.integers(-2, 3, picture.shape), 0, 255).astype(np.uint8)
        if s.due(t):
            looks += 1
            got = s.consider(noisy, t)
            if got is not None:
                keyframes.append((round(t, 2), got[0]))
    assert keyframes[:4] == [(0.0, "first"), (1.0, "floor"), (2.0, "floor"), (3.0, "floor")]
    assert keyframes[4][1] == "scene" and 3.52 <= keyframes[4][0] <= 3.52 + 0.08
    assert keyframes[5:] == [(round(keyframes[4][0] + k, 2), "floor") for k in (1, 2)]
    assert looks < 150 * 0.5


def test_changed_cells_merge_into_boxes() -> None:
    cells = np.zeros((6, 8), bool)
    cells[1:3, 2:4] = True
    cells[5, 7] = True
    boxes = changed_cell_boxes(cells, 800, 600)
    assert boxes.tolist() == [[200, 100, 400, 300], [700, 500, 800, 600]]


def test_resume_seeks(fixtures: Path) -> None:
    video, audio = _items(fixtures / "scene" / "scene.mp4", start_at=12.0)
    assert video[0].pts == pytest.approx(12.0, abs=0.05) and len(video) == pytest.approx(450, abs=2)
    assert audio[0].end >= 12.0


def test_audio_only_and_video_only(fixtures: Path) -> None:
    jfk = expand_sources(str(fixtures / "speech" / "jfk.flac"))[0]
    assert jfk.info.has_audio and not jfk.info.has_video and jfk.info.duration == pytest.approx(11.0)
    bedroom = expand_sources(str(fixtures / "video" / "sam2_bedroom.mp4"))[0]
    assert bedroom.info.has_video and not bedroom.info.has_audio
    with pytest.raises(SourceError, match="has no audio track"):
        list(iter_audio(fixtures / "video" / "sam2_bedroom.mp4"))


def test_six_channel_audio_downmixes(fixtures: Path) -> None:
    a = load_audio(fixtures / "video" / "bigbuckbunny.mp4")
    assert a.samples.ndim == 1 and a.duration == pytest.approx(5.31, abs=0.05)


def test_missing_and_empty(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file or folder"):
        expand_sources(str(tmp_path / "nope.mp4"))
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(SourceError, match="no media files in"):
        expand_sources(str(tmp_path))


def test_folder_lists_media(tmp_path: Path, fixtures: Path) -> None:
    shutil.copy(fixtures / "speech" / "jfk.flac", tmp_path / "b.flac")
    shutil.copy(fixtures / "scene" / "scene.mp4", tmp_path / "a.mp4")
    (tmp_path / "readme.txt").write_text("x")
    sources = expand_sources(str(tmp_path))
    assert [Path(s.uri).name for s in sources] == ["a.mp4", "b.flac"]
    assert len({s.id for s in sources}) == 2


def test_truncated_and_garbage(tmp_path: Path, fixtures: Path) -> None:
    data = (fixtures / "scene" / "scene.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 3])  # moov atom at the end: unreadable
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x01garbage" * 1000)
    for bad in (cut, garbage):
        with pytest.raises(SourceError, match="not a media file, or truncated/corrupt"):
            expand_sources(str(bad))


def test_corrupt_packets_mid_stream_are_skipped(tmp_path: Path, synthetic_video: tuple[Path, dict]) -> None:
    import subprocess

    ts = tmp_path / "clip.ts"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(synthetic_video[0]), "-c", "copy", str(ts)], check=True)
    data = bytearray(ts.read_bytes())
    rng = np.random.default_rng(0)
    for off in rng.integers(len(data) // 3, 2 * len(data) // 3, 40):
        data[off:off + 50] = bytes(50)
    bad = tmp_path / "damaged.ts"
    bad.write_bytes(bytes(data))
    video, audio = _items(bad)
    assert video[-1].pts > 7.0 and audio  # decoding got past the damage to the end


def test_unsupported_codec(tmp_path: Path, synthetic_video: tuple[Path, dict]) -> None:
    data = synthetic_video[0].read_bytes()
    assert data.count(b"avc1") >= 1
    odd = tmp_path / "odd.mp4"
    odd.write_bytes(data.replace(b"avc1", b"zzz9").replace(b"avcC", b"zzzC"))
    with pytest.raises(SourceError, match=r"codec .* is not supported"):
        expand_sources(str(odd))[0]


def test_refused_url_fails_fast() -> None:
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    with pytest.raises(SourceError, match="cannot open"):
        expand_sources(f"http://127.0.0.1:{port}/live.ts", IngestSettings())
    assert time.monotonic() - t0 < 10


def test_gap_type() -> None:
    g = Gap(3.0, 5.0, "end of stream")
    assert g.end - g.start == 2.0
