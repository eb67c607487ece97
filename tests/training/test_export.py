"""Review, export and dataset checks on a timeline written by the real pipeline (front-door scene)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from scenewatch.memory.store import TimelineStore
from scenewatch.training.dataset import dataset_stats, validate_file
from scenewatch.training.export import ExportSettings, export_dataset
from scenewatch.training.reviews import Correction, ReviewError, add_review, list_reviews


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _iou(a: list[float], b: list[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_export_of_the_watched_scene_validates_and_matches_truth(exported: Path, scene_truth: dict) -> None:
    report = validate_file(exported)
    assert report.ok, [str(i) for i in report.issues]
    recs = _records(exported)
    types = {r["type"] for r in recs}
    assert {"read", "said", "what", "when", "where"} <= types
    [read] = [r for r in recs if r["type"] == "read"]
    assert "PRIORITY MAIL" in read["conversations"][1]["value"]
    box = read["regions"][0]["box"]
    assert _iou(box, scene_truth["text"][0]["rest_label_box"]) > 0.5  # the label, in frame pixels
    assert "<box_2d>[" in read["conversations"][1]["value"]
    [said] = [r for r in recs if r["type"] == "said"]
    assert "fellow americans" in said["conversations"][1]["value"].lower()
    speech = scene_truth["speech"][0]
    start = said["timestamps"][0][0] + said["clip_start"]  # clip time back to source time
    assert start == pytest.approx(speech["voiced_start"], abs=0.6)
    bell = [r for r in recs if r["type"] == "when" and r["label"] in ("Ding-dong", "Doorbell", "Ding")]
    assert bell and bell[0]["timestamps"][0][0] + bell[0]["clip_start"] == pytest.approx(12.0, abs=0.5)
    for r in recs:  # every clip was cut by stream copy, so it starts on a keyframe (every 2 s in this file)
        assert r["clip_start"] == pytest.approx(round(r["clip_start"] / 2) * 2, abs=0.05)
    info = json.loads((exported.parent / "dataset_info.json").read_text())
    assert info["scenewatch"]["columns"] == {"messages": "conversations", "videos": "videos"}


def test_sharegpt_export_loads_with_the_datasets_json_reader(exported: Path) -> None:
    datasets = pytest.importorskip("datasets", reason="LLaMA-Factory reads ShareGPT files with `datasets`")
    ds = datasets.load_dataset("json", data_files=str(exported), split="train")
    assert len(ds) == len(_records(exported))
    row = ds[0]
    assert [t["from"] for t in row["conversations"]] == ["human", "gpt"]
    assert row["videos"] == [row["video"]] and (exported.parent / row["video"]).is_file()


@pytest.mark.parametrize("fmt", ["llava", "qwen-vl"])
def test_other_formats_write_their_box_convention_and_validate(store_copy: Path, tmp_path: Path, fmt: str) -> None:
    with TimelineStore(store_copy) as store:
        export_dataset(store, tmp_path / "d.jsonl", ExportSettings(fmt=fmt))  # type: ignore[arg-type]
    assert validate_file(tmp_path / "d.jsonl").ok
    [read] = [r for r in _records(tmp_path / "d.jsonl") if r["type"] == "read"]
    answer = read["conversations"][1]["value"]
    x1, y1, x2, y2 = read["regions"][0]["box"]
    if fmt == "llava":
        assert f"[{x1 / 640:.3f}, {y1 / 360:.3f}, {x2 / 640:.3f}, {y2 / 360:.3f}]" in answer
    else:
        assert json.loads(answer[answer.index("{"): answer.rindex("}") + 1])["bbox_2d"] == [
            round(x1), round(y1), round(x2), round(y2)]


def test_reviews_sit_beside_the_original_and_drive_the_export(store_copy: Path, tmp_path: Path) -> None:
    with TimelineStore(store_copy) as store:
        speech = store.observations(kinds=["speech"])[0]
        text = next(o for o in store.observations(kinds=["text"]) if "PRIORITY" in o.text)
        sounds = store.observations(kinds=["sound"])
        bell = max(sounds, key=lambda o: o.confidence)
        add_review(store, "observation", speech.id, "correct")
        add_review(store, "observation", bell.id, correction=Correction(label="Doorbell", start=12.0, end=13.4))
        add_review(store, "observation", text.id, "wrong")
        add_review(store, "answer", None, "correct", question="What does the label say?",
                   answer="It says PRIORITY MAIL.", evidence=[text.id or 0])
        with pytest.raises(ReviewError):
            add_review(store, "observation", 999_999, "correct")
        with pytest.raises(ReviewError):
            add_review(store, "observation", bell.id, correction=Correction(start=20.0))  # would end before start
        assert store.get_observation(bell.id or 0).label == bell.label  # the original is untouched
        assert [r.verdict for r in list_reviews(store)] == ["correct", "corrected", "wrong", "correct"]
        summary = export_dataset(store, tmp_path / "r.jsonl", ExportSettings(reviewed_only=True))
    recs = _records(tmp_path / "r.jsonl")
    assert summary.records == len(recs) and validate_file(tmp_path / "r.jsonl").ok
    labels = {r["label"] for r in recs}
    assert labels == {"speech", "Doorbell", "answer"}  # the wrong text row is gone; the answer stays
    [when] = [r for r in recs if r["label"] == "Doorbell" and r["type"] == "when"]
    assert when["timestamps"][0][0] + when["clip_start"] == pytest.approx(12.0, abs=0.01)
    assert when["timestamps"][0][1] + when["clip_start"] == pytest.approx(13.4, abs=0.01)


def test_a_hand_broken_file_gets_line_numbered_errors(exported: Path) -> None:
    recs = _records(exported)[:8]
    broken = [json.dumps(r) for r in recs]
    broken[1] = broken[1][:-5]  # truncated JSON
    r = recs[2]
    r["conversations"][1]["value"] = "<box_2d>[10, 10, 900, 50]</box_2d>"  # wider than the 640 px frame
    broken[2] = json.dumps(r)
    r = json.loads(json.dumps(recs[3]))
    r["conversations"][1]["value"] = "It reads <box_2d>[1, 2, 3, 4]"  # unclosed tag
    broken[3] = json.dumps(r)
    r = json.loads(json.dumps(recs[4]))
    r["conversations"][1]["value"] = "   "
    broken[4] = json.dumps(r)
    r = json.loads(json.dumps(recs[5]))
    r["timestamps"] = [[1.0, 500.0]]
    broken[5] = json.dumps(r)
    r = json.loads(json.dumps(recs[6]))
    r["video"] = "missing/clip.mp4"
    r["conversations"][0]["value"] = r["conversations"][0]["value"].replace("<video>\n", "")
    broken[6] = json.dumps(r)
    path = exported.parent / "broken.jsonl"  # beside the clips, which records name relative to their file
    path.write_text("\n".join(broken) + "\n")
    report = validate_file(path)
    found = {(i.line, i.field) for i in report.issues}
    assert found == {
        (2, "json"),
        (3, "conversations[1].value"),
        (4, "conversations[1].value"),
        (5, "conversations[1].value"),
        (6, "timestamps[0]"),
        (7, "video"),
        (7, "conversations"),
    }, [str(i) for i in report.issues]
    text = {str(i) for i in report.issues}
    assert "line 3: conversations[1].value: box [10.0, 10.0, 900.0, 50.0] lies outside the 640x360 frame" in text
    assert any(s.startswith("line 4: conversations[1].value: unbalanced box tags") for s in text)
    assert "line 5: conversations[1].value: empty turn" in text
    assert "line 7: video: media missing/clip.mp4 does not exist" in text


def test_stats_count_types_and_labels(exported: Path) -> None:
    stats = dataset_stats(exported)
    recs = _records(exported)
    assert stats.records == len(recs) and sum(stats.by_type.values()) == len(recs)
    assert stats.by_type["read"] == 1 and stats.by_label["PRIORITY MAIL"] == 2  # read + when
    assert stats.clips == len({r["video"] for r in recs}) and stats.with_boxes == sum(bool(r["regions"]) for r in recs)


def test_cli_review_export_validate(store_copy: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from scenewatch.cli.main import app

    runner = CliRunner()
    db = str(store_copy)
    with TimelineStore(store_copy, readonly=True) as store:
        event = store.events()[0]
    r = runner.invoke(app, ["review", "mark", "event", str(event.id), "correct", "--db", db, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["verdict"] == "correct"
    r = runner.invoke(app, ["review", "correct", "track", str(event.observation_ids[0]), "--box", "1,2,3", "--db", db])
    assert r.exit_code != 0  # a box needs four numbers
    r = runner.invoke(app, ["review", "list", "--db", db, "--json"])
    assert [x["target"] for x in json.loads(r.stdout)] == ["event"]
    out = tmp_path / "cli.jsonl"
    r = runner.invoke(app, ["export", "--db", db, "--out", str(out), "--reviewed-only", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["records"] == len(_records(out)) > 0
    assert runner.invoke(app, ["dataset", "validate", str(out)]).exit_code == 0
    out.write_text(out.read_text() + "{not json\n")
    assert runner.invoke(app, ["dataset", "validate", str(out)]).exit_code == 1


def test_since_filters_by_storage_time(store_copy: Path, tmp_path: Path) -> None:
    from scenewatch.errors import ConfigError
    from scenewatch.runtime.training_service import parse_since

    assert parse_since("3d", now=1_000_000.0) == 1_000_000.0 - 3 * 86400
    assert parse_since("1700000000") == 1_700_000_000.0
    assert parse_since("2026-11-30T08:00") is not None
    with pytest.raises(ConfigError, match="--since"):
        parse_since("last tuesday")
    with TimelineStore(store_copy) as store:
        later = parse_since(str(time.time() + 3600))  # nothing was stored an hour from now
        none = export_dataset(store, tmp_path / "future.jsonl", ExportSettings(since=later))
        everything = export_dataset(store, tmp_path / "all.jsonl", ExportSettings(since=parse_since("30d")))
    assert none.records == 0 and everything.records > 0
