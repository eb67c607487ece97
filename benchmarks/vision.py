"""Vision benchmark: detector speed at 640×360, tracker overhead, end-to-end stage, RSS, bbox mAP.

Run alone (it is CPU-bound): ``.venv/bin/python -m benchmarks.vision [--frames 60] [--images 120]``.
``--seeing`` times only the arrivals stage and attributes beside the detector; ``--arrivals 10:30``
scores arrivals/departures/colours on generated scenes (``synth.vision``, needs the repo root on
``sys.path``). ``python -m benchmarks.vision --people [--frames 50]`` times BlazeFace + FaceRes on the
face photos and on person crops, and MoveNet + posture on person crops, each beside nanodet's time
per keyframe; ``python -m benchmarks.vision --watch-rtf [--until S]`` runs ``watch`` (temporary
store) on the scene and bedroom clips with the default stages, then with faces and pose on, and
prints wall RTF and CPU seconds per media second beside PyAV decode-only of the same file.
Prints results; writes nothing (temporary stores are deleted).

mAP: there is no COCO val set on these machines, so the benchmark builds a COCO-format set
itself: real person crops from ``video/sam2_bedroom.mp4`` (two poses of one girl, boxes
checked by eye) pasted at random sizes and places onto plain and textured backgrounds,
with exact ground-truth boxes; 1–3 people per image. This measures person AP of the shipped
model on composites, which is *not* comparable to the published COCO val2017 figure
printed next to it (80 classes, real clutter, small objects).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
BEDROOM = FIXTURES / "video" / "sam2_bedroom.mp4"
SCENE = FIXTURES / "scene" / "scene.mp4"
PERSON_CROPS = ((180, (316, 29, 513, 400)), (0, (314, 13, 515, 396)))  # (frame index, xyxy)
# NanoDet README: NanoDet-g (CSP backbone, LeakyReLU, reg_max 10 — what this graph looks like), 416×416.
PUBLISHED = "NanoDet-g 416: COCO val2017 mAP@[.5:.95] 22.9 (NanoDet README); NanoDet-m 416: 23.5"


def bedroom_frames(indices: set[int]) -> dict[int, np.ndarray]:
    import av

    out = {}
    with av.open(str(BEDROOM)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i in indices:
                out[i] = f.to_ndarray(format="rgb24")
            if len(out) == len(indices):
                break
    return out


def timed(fn: Any, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def summary(ms: list[float]) -> str:
    p95 = sorted(ms)[max(0, int(len(ms) * 0.95) - 1)]
    return f"mean {statistics.mean(ms):6.1f} ms  p50 {statistics.median(ms):6.1f}  p95 {p95:6.1f}"


def bench_detector(n: int) -> tuple[Any, list[Any]]:
    from PIL import Image

    from scenewatch.perception.detect.nanodet_onnx import COCO_LABELS, NanoDetDetector, letterbox
    from scenewatch.perception.track.bytetrack import ByteTrack
    from scenewatch.types import Frame

    t0 = time.perf_counter()
    det = NanoDetDetector()
    print(f"detector load (verified, cached ONNX): {time.perf_counter() - t0:.2f} s")
    frames = bedroom_frames(set(range(0, 200, 4)))
    small = [np.asarray(Image.fromarray(frames[i]).resize((640, 360))) for i in sorted(frames)]
    kfs = [Frame(img, i / 7.5, "bench", i) for i, img in enumerate(small)]
    for f in kfs[:3]:
        det.detect(f, COCO_LABELS)
    it = iter(range(10**9))
    ms = timed(lambda: det.detect(kfs[next(it) % len(kfs)], COCO_LABELS), n)
    print(f"nanodet detect 640x360 (all 80 labels), {n} keyframes: {summary(ms)}  "
          f"→ {1000 / statistics.mean(ms):.1f} keyframes/s (target ≥ 10)")
    tensor = letterbox(kfs[0].image)[0]
    ms_net = timed(lambda: det.raw_outputs(tensor), n)
    ms_pre = timed(lambda: letterbox(kfs[0].image), n)
    print(f"  of which network {statistics.mean(ms_net):.1f} ms, letterbox+normalise {statistics.mean(ms_pre):.1f} ms")
    dets = [det.detect(f, ["person"]) for f in kfs]
    tracker = ByteTrack()
    it2 = iter(range(10**9))

    def step() -> None:
        i = next(it2)
        tracker.update(dets[i % len(dets)], timestamp=i / 7.5)

    ms_tr = timed(step, max(n, len(dets)))
    print(f"bytetrack update ({statistics.mean([len(d) for d in dets]):.1f} boxes/keyframe): {summary(ms_tr)}  "
          f"= {100 * statistics.mean(ms_tr) / statistics.mean(ms):.1f} % of detection time")
    return det, kfs


def bench_stage(det: Any) -> None:
    from scenewatch.config import Config
    from scenewatch.runtime.files import detect_file

    with tempfile.TemporaryDirectory() as tmp:
        for path, concepts in ((BEDROOM, "person"), (SCENE, "person, car, dog")):
            t0 = time.perf_counter()
            obs = detect_file(path, concepts, Config(), media_dir=Path(tmp), detector=det)
            dt = time.perf_counter() - t0
            samples = sum(getattr(o.payload, "samples", 0) for o in obs)
            print(f"detect_file {path.name} (decode + keyframes + detect + track + thumbnails): {dt:.2f} s, "
                  f"{len(obs)} tracks, {samples} tracked boxes")


def scene_keyframes(path: Path, limit: int = 400) -> list[Any]:
    """Keyframes of a video as the pipeline's sampler picks them."""
    from scenewatch.config import Config
    from scenewatch.ingest.keyframes import KeyframeSampler
    from scenewatch.ingest.sources import MediaSource, VideoItem
    from scenewatch.types import Keyframe

    cfg = Config()
    source = MediaSource(str(path), cfg.ingest)
    sampler = KeyframeSampler(cfg.ingest.keyframes, source.info.width, source.info.height)
    out = []
    for item in source.items():
        if isinstance(item, VideoItem):
            got = sampler.consider(item.thumbnail(cfg.ingest.keyframes.analysis_width), item.pts)
            if got is not None:
                out.append(Keyframe(item.to_frame(), got[0], got[1], got[2]))
                if len(out) >= limit:
                    break
    return out


def bench_seeing(det: Any) -> None:
    """Cost per keyframe of the arrivals stage (background model) and of attributes, beside the detector."""
    from scenewatch.config import Config
    from scenewatch.perception.arrivals.stage import ArrivalStage
    from scenewatch.perception.attributes import motion_of, object_colour
    from scenewatch.perception.detect.nanodet_onnx import COCO_LABELS
    from scenewatch.perception.stage import KeyframeShared, StageContext
    from scenewatch.types import SourceInfo

    kfs = scene_keyframes(SCENE)
    info = SourceInfo(id="bench", uri=str(SCENE), kind="file", width=640, height=360, fps=25.0)
    dets = []
    ms_det = []
    for kf in kfs:
        t0 = time.perf_counter()
        dets.append(det.detect(kf.frame, COCO_LABELS))
        ms_det.append((time.perf_counter() - t0) * 1000)
    with tempfile.TemporaryDirectory() as tmp:
        stage = ArrivalStage(StageContext(Config().perception, info, Path(tmp)))
        ms_arr = []
        for kf, d in zip(kfs, dets, strict=True):
            t0 = time.perf_counter()
            stage.on_keyframe(kf, KeyframeShared(d))
            ms_arr.append((time.perf_counter() - t0) * 1000)
    ms_att = []
    boxes = 0
    for kf, d in zip(kfs, dets, strict=True):
        t0 = time.perf_counter()
        for box in d.xyxy[d.scores >= 0.35]:
            object_colour(kf.frame.image, box)
            boxes += 1
        motion_of([[i * 0.2, 10 + i, 10, 50 + i, 50] for i in range(40)], 640, 360)
        ms_att.append((time.perf_counter() - t0) * 1000)
    mean_det = statistics.mean(ms_det)
    print(f"seeing on {SCENE.name}, {len(kfs)} keyframes (640x360):")
    print(f"  nanodet detect:            {summary(ms_det)}")
    print(f"  arrivals stage (MOG2 etc): {summary(ms_arr)}  "
          f"= {100 * statistics.mean(ms_arr) / mean_det:.0f} % of detect")
    print(f"  attributes ({boxes / len(kfs):.1f} boxes/kf):  {summary(ms_att)}  "
          f"= {100 * statistics.mean(ms_att) / mean_det:.0f} % of detect")
    crop = kfs[len(kfs) // 2].frame.image
    per_box = timed(lambda: object_colour(crop, (300, 150, 420, 270)), 50)
    print(f"  colour of one 120x120 box: {summary(per_box)}")


def person_keyframes(n: int) -> list[Any]:
    """Up to ``n`` bedroom frames at 640×360 as pipeline frames (people in most of them)."""
    from PIL import Image

    from scenewatch.types import Frame

    frames = bedroom_frames(set(range(0, 200, 4)))
    small = [np.asarray(Image.fromarray(frames[i]).resize((640, 360))) for i in sorted(frames)]
    return [Frame(img, i / 7.5, "bench", i) for i, img in enumerate(small)][:n]


def ratio(ms: list[float], base: float) -> str:
    return f"{summary(ms)}  = {100 * statistics.mean(ms) / base:.0f} % of detect"


def bench_people(n: int) -> None:
    """Cost per call of faces (BlazeFace + FaceRes) and pose (MoveNet + posture), beside nanodet per keyframe."""
    from PIL import Image

    from scenewatch.perception.detect.nanodet_onnx import COCO_LABELS, NanoDetDetector
    from scenewatch.perception.faces.models import face_crop
    from scenewatch.perception.faces.recognizer import FaceRecognizer
    from scenewatch.perception.pose.models import PoseEstimator
    from scenewatch.perception.pose.posture import classify_posture

    t0 = time.perf_counter()
    det = NanoDetDetector()
    t1 = time.perf_counter()
    rec = FaceRecognizer()
    t2 = time.perf_counter()
    pose = PoseEstimator()
    t3 = time.perf_counter()
    print(f"load (verified, cached ONNX): nanodet {t1 - t0:.2f} s, blazeface+faceres {t2 - t1:.2f} s, "
          f"movenet {t3 - t2:.2f} s")

    kfs = person_keyframes(n)
    for f in kfs[:2]:  # warm-up
        det.detect(f, COCO_LABELS)
    ms_det: list[float] = []
    boxes: list[tuple[np.ndarray, np.ndarray]] = []
    for f in kfs:
        t0 = time.perf_counter()
        d = det.detect(f, COCO_LABELS)
        ms_det.append((time.perf_counter() - t0) * 1000)
        people = [b for b, lab, s in zip(d.xyxy, d.labels, d.scores, strict=True) if lab == "person" and s >= 0.35]
        boxes.extend((f.image, np.asarray(b, np.float32)) for b in people)
    base = statistics.mean(ms_det)
    print(f"people on {BEDROOM.name}, {len(kfs)} keyframes (640x360), {len(boxes)} person boxes:")
    print(f"  nanodet detect (80 labels), per keyframe: {summary(ms_det)}")

    photos = sorted((FIXTURES / "faces").glob("*.jpg"))
    images = [np.asarray(Image.open(p).convert("RGB")) for p in photos]
    rec.detector.detect(images[0])  # warm-up
    ms_fd, ms_fe, found = [], [], 0
    for img in images:
        for _ in range(3):
            t0 = time.perf_counter()
            faces = rec.detector.detect(img)
            ms_fd.append((time.perf_counter() - t0) * 1000)
            if faces:
                crop = face_crop(img, faces[0].xyxy, rec.settings.crop_scale)
                t0 = time.perf_counter()
                rec.embedder.embed(crop)
                ms_fe.append((time.perf_counter() - t0) * 1000)
        found += bool(faces)
    sizes = ", ".join(f"{i.shape[1]}x{i.shape[0]}" for i in images)
    print(f"  face photos ({len(images)}: {sizes}; a face in {found}):")
    print(f"    blazeface detect, per photo: {ratio(ms_fd, base)}")
    if ms_fe:
        print(f"    faceres descriptor, per face: {ratio(ms_fe, base)}")

    if not boxes:
        print("  no person boxes found: face/pose on person crops not timed")
        return
    ms_desc, ms_pose, ms_post, described = [], [], [], 0
    postures: dict[str, int] = {}
    rec.describe(boxes[0][0], boxes[0][1])
    pose.estimate(boxes[0][0], boxes[0][1])
    for img, box in boxes:
        t0 = time.perf_counter()
        described += rec.describe(img, box) is not None
        ms_desc.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        p = pose.estimate(img, box)
        ms_pose.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        label = classify_posture(p, box)
        ms_post.append((time.perf_counter() - t0) * 1000)
        postures[str(label)] = postures.get(str(label), 0) + 1
    print(f"  person crops ({len(boxes)}; a face described on {described}):")
    print(f"    blazeface + faceres (describe), per person box: {ratio(ms_desc, base)}")
    print(f"    movenet keypoints, per person box:              {ratio(ms_pose, base)}")
    print(f"    posture from keypoints, per person box:         {ratio(ms_post, base)}  {postures}")


def decode_only(path: Path, until: float | None) -> tuple[float, float, float]:
    """PyAV decode of every video and audio frame: (wall s, CPU s, media s)."""
    import av

    c0, t0 = cpu_seconds(), time.perf_counter()
    media = 0.0
    with av.open(str(path)) as c:
        streams = [s for s in c.streams if s.type in ("video", "audio")]
        for frame in c.decode(*streams):
            if not isinstance(frame, av.VideoFrame | av.AudioFrame):
                continue
            if frame.time is not None:
                if until is not None and frame.time > until:
                    break
                media = max(media, float(frame.time))
            if isinstance(frame, av.VideoFrame):
                frame.to_ndarray(format="rgb24")
    return time.perf_counter() - t0, cpu_seconds() - c0, media


def cpu_seconds() -> float:
    """User + system CPU of this process (all threads) and its waited-for children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed_watch(path: Path, people: bool, until: float | None) -> tuple[float, float, list[Any], list[Any], str]:
    """One ``watch`` into a temporary store: (wall s, CPU s, run summaries, object payloads, stages)."""
    from scenewatch.config import Config
    from scenewatch.runtime.service import timeline, watch

    with tempfile.TemporaryDirectory() as tmp:
        cfg = Config(store={"path": Path(tmp) / "bench.db"})
        cfg.perception.faces.enabled = people
        cfg.perception.pose.enabled = people
        c0, t0 = cpu_seconds(), time.perf_counter()
        runs = watch(str(path), cfg, until=until, restart=True)
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        rows = [o.payload for o in timeline(cfg, kinds=["object"])]
    return wall, cpu, runs, rows, ", ".join(cfg.perception.stages)


def bench_watch_rtf(until: float | None) -> None:
    """Whole ``watch`` RTF (wall and CPU per media second), default stages vs faces+pose on, vs decode-only.

    Media seconds are the decoded span of the file (``--until`` caps it); the pipeline's committed
    watermark is printed beside. Start-up (model loads, store) is measured as a ``watch`` of the
    first 0.5 s, and "net" RTF is (wall − start-up) / (media − 0.5 s), printed for ≥ 5 media s.
    """
    import logging

    logging.disable(logging.WARNING)
    head = 0.5
    print("watch RTF (wall s / media s; CPU = user+sys s per media s, all threads and children):")
    for path in (SCENE, BEDROOM):
        wall, cpu, media = decode_only(path, until)
        print(f"  {path.name}: PyAV decode-only (video+audio) {media:.1f} media s: RTF {wall / media:.3f}, "
              f"CPU {cpu / media:.3f} s/s")
        for name, people in (("default stages", False), ("+ faces + pose", True)):
            start, start_cpu, *_ = timed_watch(path, people, head)
            wall, cpu, runs, rows, stages = timed_watch(path, people, until)
            posed = sum(getattr(r, "posture", None) is not None for r in rows)
            named = sum(getattr(r, "identity", None) is not None for r in rows)
            print(f"    watch {name} ({stages}): {sum(r.keyframes for r in runs)} keyframes, {len(rows)} object "
                  f"rows ({posed} with posture, {named} with identity), watermark "
                  f"{sum(r.media_time for r in runs):.1f} s")
            net = (f"; net RTF {(wall - start) / (media - head):.3f}, net CPU "
                   f"{(cpu - start_cpu) / (media - head):.3f} s/s" if media >= 5 else "")
            print(f"      RTF {wall / media:.3f} (wall {wall:.1f} s), CPU {cpu / media:.3f} s/s; start-up "
                  f"{start:.1f} s wall / {start_cpu:.1f} s CPU{net}")

def bench_arrival_quality(seeds: list[int]) -> None:
    """Arrival/departure recall, false arrivals, colour names on generated scenes (synth.vision)."""
    from synth.vision_eval import evaluate

    with tempfile.TemporaryDirectory() as tmp:
        from scenewatch.perception.detect.settings import DetectSettings
        from scenewatch.perception.detect.stage import build_tracking_detector

        t0 = time.perf_counter()
        score = evaluate(seeds, Path(tmp), build_tracking_detector(DetectSettings()))
    print(f"arrivals on generated scenes {seeds[0]}..{seeds[-1]} ({time.perf_counter() - t0:.0f} s):",
          json.dumps(score.summary()))
    for miss in score.misses:
        print("  ", miss)


def composite_dataset(n_images: int, seed: int = 0) -> tuple[list[np.ndarray], dict[str, Any]]:
    from PIL import Image

    rng = np.random.default_rng(seed)
    frames = bedroom_frames({i for i, _ in PERSON_CROPS})
    crops = [frames[i][y1:y2, x1:x2] for i, (x1, y1, x2, y2) in PERSON_CROPS]
    images: list[np.ndarray] = []
    annotations: list[dict[str, Any]] = []
    infos: list[dict[str, Any]] = []
    for k in range(n_images):
        h, w = 360, 640
        if k % 2:
            bg = rng.integers(60, 200, (h // 20 + 1, w // 20 + 1, 3)).astype(np.uint8)
            img = np.asarray(Image.fromarray(bg).resize((w, h), Image.Resampling.BICUBIC)).copy()
        else:
            img = np.full((h, w, 3), rng.integers(90, 230, 3), np.uint8)
        placed: list[tuple[int, int, int, int]] = []
        for _ in range(int(rng.integers(1, 4))):
            crop = crops[int(rng.integers(len(crops)))]
            ph = int(rng.integers(60, 330))
            pw = max(2, round(crop.shape[1] * ph / crop.shape[0]))
            if pw >= w:
                continue
            x, y = int(rng.integers(0, w - pw)), int(rng.integers(0, h - ph + 1))
            box = (x, y, x + pw, y + ph)
            if any(not (box[2] <= b[0] or b[2] <= box[0] or box[3] <= b[1] or b[3] <= box[1]) for b in placed):
                continue  # keep people apart: overlap would hide ground truth
            img[y:y + ph, x:x + pw] = np.asarray(Image.fromarray(crop).resize((pw, ph), Image.Resampling.BILINEAR))
            placed.append(box)
            annotations.append({"id": len(annotations) + 1, "image_id": k + 1, "category_id": 1,
                                "bbox": [x, y, pw, ph], "area": pw * ph, "iscrowd": 0})
        images.append(img)
        infos.append({"id": k + 1, "width": w, "height": h, "file_name": f"composite_{k}.png"})
    coco = {"images": infos, "annotations": annotations, "categories": [{"id": 1, "name": "person"}]}
    return images, coco


def bench_map(n_images: int) -> None:
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError:
        print("mAP: skipped (pip install pycocotools)")
        return
    import contextlib
    import io

    from scenewatch.perception.detect.nanodet_onnx import NanoDetDetector
    from scenewatch.perception.detect.settings import DetectSettings
    from scenewatch.types import Frame

    det = NanoDetDetector(DetectSettings(score_threshold=0.05, nms_iou=0.6))
    images, gt = composite_dataset(n_images)
    results = []
    for k, img in enumerate(images):
        d = det.detect(Frame(img, 0.0, "coco"), ["person"])
        for box, score in zip(d.xyxy.tolist(), d.scores.tolist(), strict=True):
            results.append({"image_id": k + 1, "category_id": 1, "score": score,
                            "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]]})
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        gt_path = Path(tmp) / "gt.json"
        gt_path.write_text(json.dumps(gt))
        coco = COCO(str(gt_path))
        ev = COCOeval(coco, coco.loadRes(results) if results else coco.loadRes([]), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    print(f"bbox mAP on {len(images)} composite images / {len(gt['annotations'])} people (person class): "
          f"AP@[.5:.95] {100 * ev.stats[0]:.1f}  AP50 {100 * ev.stats[1]:.1f}  AP75 {100 * ev.stats[2]:.1f}  "
          f"AR@100 {100 * ev.stats[8]:.1f}")
    print(f"  published (not comparable, see docstring): {PUBLISHED}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60, help="keyframes to time")
    parser.add_argument("--images", type=int, default=120, help="composite images for mAP")
    parser.add_argument("--skip-map", action="store_true")
    parser.add_argument("--seeing", action="store_true", help="only the arrivals/attributes cost per keyframe")
    parser.add_argument("--arrivals", metavar="A:B", help="arrival quality on generated scenes of seeds A..B-1")
    parser.add_argument("--people", action="store_true",
                        help="only faces (BlazeFace+FaceRes) and pose (MoveNet+posture) per call beside the detector")
    parser.add_argument("--watch-rtf", action="store_true",
                        help="only whole-watch RTF, default stages vs faces+pose on, beside PyAV decode-only")
    parser.add_argument("--until", type=float, help="--watch-rtf: media seconds per file (default: whole file)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.people:
        bench_people(args.frames)
        return
    if args.watch_rtf:
        bench_watch_rtf(args.until)
        return
    if args.arrivals:
        a, b = (int(v) for v in args.arrivals.split(":"))
        bench_arrival_quality(list(range(a, b)))
        return
    if args.seeing:
        from scenewatch.perception.detect.nanodet_onnx import NanoDetDetector

        bench_seeing(NanoDetDetector())
        return
    det, _ = bench_detector(args.frames)
    bench_seeing(det)
    bench_stage(det)
    if not args.skip_map:
        bench_map(args.images)
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
