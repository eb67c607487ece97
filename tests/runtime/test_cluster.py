"""Archive indexing in chunks and on a local Ray cluster (runtime/index.py, runtime/cluster*.py).

The Ray tests start a two-CPU cluster on 127.0.0.1 once per module. Without Ray they skip,
except under ``CI=true``, where a missing Ray fails.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scenewatch.config import Config, load_config
from scenewatch.memory.store import RowMeta, TimelineStore
from scenewatch.payloads import SpeechPayload, WordPayload
from scenewatch.runtime.cluster_chunks import WorkUnit, chunk_grid, chunk_overlap, plan_units, stitch
from scenewatch.runtime.index import IndexProgress, index
from scenewatch.types import Observation
from tests.conftest import FIXTURES, make_synthetic_video
from tests.runtime.rows import KEYFRAME, assert_same_rows

SCENE = FIXTURES / "scene" / "scene.mp4"


def _config(db: Path, stages: list[str], **extra: Any) -> Config:
    return load_config(None, {"store": {"path": str(db)}, "perception": {"stages": stages}, **extra})


def _rows(db: Path) -> list[Observation]:
    with TimelineStore(db) as store:
        return store.observations()


def _by_source(rows: list[Observation]) -> dict[str, list[Observation]]:
    out: dict[str, list[Observation]] = {}
    for o in rows:
        out.setdefault(o.source_id, []).append(o)
    return out


# ------------------------------------------------------------------------------ chunks
def test_plan_units_cover_the_file_once_with_overlap_on_the_grid() -> None:
    cfg = Config()
    lap, grid = chunk_overlap(cfg), chunk_grid(cfg)
    assert lap >= cfg.perception.asr.chunk_seconds  # speech runs by default: a window of lead and tail
    assert grid == pytest.approx(12.0)  # lcm of the 1 s keyframe floor and YAMNet's 0.48 s hop
    units = plan_units("/x.mp4", 3600.0, 600.0, lap, grid)
    assert len(units) == 6
    assert units[0].start == 0 and units[-1].end is None
    for a, b in itertools.pairwise(units):
        assert a.end == b.start  # owned parts tile the file
        assert b.run_start <= b.start - lap and (b.run_start / grid).is_integer()
        assert a.run_end is not None and a.run_end >= a.end + lap
    assert plan_units("/x.mp4", 700.0, 600.0, lap, grid) == [WorkUnit("/x.mp4")]  # short: one unit


def _speech(start: float, words: list[tuple[float, float, str]]) -> Observation:
    return Observation(kind="speech", source_id="s", start=start, end=words[-1][1], label="speech",
                       text=" ".join(w for _, _, w in words),
                       payload=SpeechPayload(words=[WordPayload(start=s, end=e, word=w) for s, e, w in words]))


def _obj(start: float, end: float, label: str = "object", box: tuple[float, ...] = (10, 10, 50, 50)) -> Observation:
    return Observation(kind="object", source_id="s", start=start, end=end, label=label, box=box)  # type: ignore[arg-type]


def test_stitch_joins_border_spans_and_cuts_speech_by_words() -> None:
    a = WorkUnit("/x", 0, 2, 0.0, 10.0, 0.0, 18.0)
    b = WorkUnit("/x", 1, 2, 10.0, None, 0.0, None)
    obj, spk = RowMeta("objects"), RowMeta("speech")
    first = [(_obj(8.0, 18.0), obj),  # still in view when chunk a's run ended: cut off
             (_speech(9.0, [(9.0, 9.5, "ask"), (9.6, 10.4, "not")]), spk),
             (_obj(12.0, 12.0, label="gone"), obj)]  # a's tail: b owns it, and b sees it too
    second = [(_obj(8.0, 25.0), obj),  # b's lead: the same span going on
              (_speech(9.0, [(9.0, 9.5, "ask"), (9.6, 10.4, "not"), (10.5, 11.0, "what")]), spk),
              (_obj(12.0, 12.0, label="gone"), obj),
              (_obj(3.0, 4.0, label="ghost"), obj)]  # lead row that continues nothing: a covered it
    rows = stitch([(b, second), (a, first)])
    got = [(o.kind, o.label, o.text, o.start, o.end) for o, _ in rows]
    assert got == [("object", "object", "", 8.0, 25.0), ("speech", "speech", "ask not", 9.0, 10.4),
                   ("speech", "speech", "what", 10.5, 11.0), ("object", "gone", "", 12.0, 12.0)]
    assert all(not m.open for _, m in rows)


def test_long_file_in_chunks_gives_the_rows_of_one_run(tmp_path: Path, scene_truth: dict) -> None:
    stages = ["scene", "objects", "arrivals", "text"]
    whole = index(str(SCENE), _config(tmp_path / "whole.db", stages))
    split = index(str(SCENE), _config(tmp_path / "split.db", stages), chunk=10.0)
    assert [s.status for s in whole] == [s.status for s in split] == ["done"]
    assert whole[0].chunks == 1 and split[0].chunks == 3
    a, b = _rows(tmp_path / "whole.db"), _rows(tmp_path / "split.db")
    assert_same_rows(a, b)
    # The parcel label is on screen across both borders (10 s, 20 s): one row, at the true times.
    label = [o for o in b if o.kind == "text" and o.text == "PRIORITY MAIL"]
    visible = next(t for t in scene_truth["text"] if t["text"] == "PRIORITY MAIL")["fully_visible_span"]
    assert len(label) == 1
    assert abs(label[0].start - visible[0]) <= KEYFRAME and abs(label[0].end - visible[1]) <= KEYFRAME
    thumbs = [o.payload.thumbnail for o in b if getattr(o.payload, "thumbnail", None)]
    media = tmp_path / "split.media"
    assert all((media / t).is_file() for t in thumbs)


@pytest.mark.slow
def test_chunks_with_speech_and_sounds_say_each_word_once(tmp_path: Path) -> None:
    stages = ["speech", "sounds"]
    extra = {"perception": {"stages": stages, "asr": {"chunk_seconds": 8}}}
    index(str(SCENE), load_config(None, {"store": {"path": str(tmp_path / "w.db")}, **extra}))
    index(str(SCENE), load_config(None, {"store": {"path": str(tmp_path / "s.db")}, **extra}), chunk=10.0)
    a, b = _rows(tmp_path / "w.db"), _rows(tmp_path / "s.db")

    def said(rows: list[Observation]) -> list[str]:
        text = " ".join(o.text for o in sorted(rows, key=lambda o: o.start) if o.kind == "speech")
        return "".join(c for c in text.lower() if c.isalnum() or c.isspace()).split()

    assert said(b) == said(a)
    assert "americans" in said(b) and "country" in said(b)
    bells = [o for o in b if o.kind == "sound" and o.label in ("Ding-dong", "Doorbell")]
    assert len(bells) == 1 and abs(bells[0].start - 12.0) <= KEYFRAME  # the doorbell rings once, at 12 s


# ---------------------------------------------------------------------------------- Ray
@pytest.fixture(scope="module")
def ray_local() -> Iterator[Any]:
    try:
        import ray
    except ImportError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Ray tests need ray under CI: {exc}")
        pytest.skip("ray not installed (pip install 'scenewatch[scale]')")
    ray.init(num_cpus=2, include_dashboard=False, namespace="scenewatch", _node_ip_address="127.0.0.1",
             log_to_driver=False, configure_logging=False)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Observation], Config]:
    """Three small clips (motion 2–4 s, a cut at 5 s) and their rows from an in-process run."""
    root = tmp_path_factory.mktemp("archive")
    folder = root / "clips"
    folder.mkdir()
    for i, seconds in enumerate((6.0, 7.0, 8.0)):
        make_synthetic_video(folder / f"clip{i}.mp4", seconds=seconds)
    cfg = _config(root / "local.db", ["scene", "objects"], cluster={"worker_cpus": 1})
    summaries = index(str(folder), cfg)
    assert [s.status for s in summaries] == ["done"] * 3
    return folder, _rows(root / "local.db"), cfg


def _ray_config(cfg: Config, db: Path) -> Config:
    return cfg.model_copy(update={"store": cfg.store.model_copy(update={"path": db, "media_dir": None})})


def test_folder_on_ray_matches_the_in_process_run(ray_local: Any, clips: tuple[Path, list[Observation], Config],
                                                   tmp_path: Path) -> None:
    from scenewatch.runtime.cluster import RayExecutor

    folder, local, cfg = clips
    cfg = _ray_config(cfg, tmp_path / "ray.db")
    events: list[IndexProgress] = []
    executor = RayExecutor(cfg, workers=2)
    summaries = index(str(folder), cfg, executor=executor, on_progress=events.append)
    assert [s.status for s in summaries] == ["done"] * 3
    remote = _rows(tmp_path / "ray.db")
    for sid, rows in _by_source(local).items():
        assert_same_rows(rows, _by_source(remote)[sid])
    for rows in _by_source(remote).values():  # ground truth of the synthetic clips
        motion = [o for o in rows if o.kind == "motion"]
        cuts = [o for o in rows if o.kind == "scene"]
        assert len(motion) == 1 and abs(motion[0].start - 2.0) <= 0.3 and abs(motion[0].end - 4.0) <= 0.5
        assert len(cuts) == 1 and abs(cuts[0].start - 5.0) <= 0.1
    workers = {e.worker for e in events if e.event == "started"}
    assert len(workers) == 2  # the units were spread over both actors
    assert events[-1].units_done == events[-1].units_total == 3


def test_worker_killed_mid_run_loses_and_repeats_nothing(ray_local: Any,
                                                         clips: tuple[Path, list[Observation], Config],
                                                         tmp_path: Path) -> None:
    from scenewatch.runtime.cluster import NAMESPACE, RayExecutor

    folder, local, cfg = clips
    cfg = _ray_config(cfg, tmp_path / "killed.db")
    executor = RayExecutor(cfg, workers=2)
    killed: list[str] = []

    def kill(p: IndexProgress) -> None:
        if p.event == "started" and not killed:
            name = p.worker
            killed.append(name)

            def later() -> None:
                time.sleep(0.5)  # the unit is being perceived
                ray_local.kill(ray_local.get_actor(name, namespace=NAMESPACE), no_restart=True)

            threading.Thread(target=later, daemon=True).start()

    summaries = index(str(folder), cfg, executor=executor, on_progress=kill)
    assert killed and executor.replaced >= 1
    assert [s.status for s in summaries] == ["done"] * 3
    remote = _rows(tmp_path / "killed.db")
    assert len(remote) == len(local)
    for sid, rows in _by_source(local).items():
        assert_same_rows(rows, _by_source(remote)[sid])
    # Indexing again finds every file done and writes nothing.
    again = index(str(folder), cfg, executor=executor)
    assert [s.status for s in again] == ["already done"] * 3
    assert len(_rows(tmp_path / "killed.db")) == len(local)


def test_index_command_runs_in_process_and_prints_json(clips: tuple[Path, list[Observation], Config],
                                                       tmp_path: Path) -> None:
    folder = clips[0]
    out = subprocess.run([sys.executable, "-m", "scenewatch.cli.main", "index", str(folder / "clip*.mp4"),
                          "--stages", "scene", "--db", str(tmp_path / "cli.db"), "--json"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["status"] for r in rows] == ["done"] * 3
    assert sum(r["observations"] for r in rows) == len(_rows(tmp_path / "cli.db")) == 6  # motion + cut each


# ------------------------------------------------------------------------------ serving
def _serve_ts(port: int) -> subprocess.Popen[bytes]:
    """The scene as a live MPEG-TS stream over HTTP, in real time (one client)."""
    return subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-re", "-i", str(SCENE), "-c", "copy",
                             "-f", "mpegts", "-listen", "1", f"http://127.0.0.1:{port}/live.ts"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait(cond: Any, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.live
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_serve_runs_a_live_source_in_an_actor_that_ray_restarts(ray_local: Any, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from scenewatch.api.app import create_app
    from scenewatch.runtime.cluster import ray_worker_factory, source_resources
    from scenewatch.runtime.server import SourceManager
    from tests.api.serving_helpers import PASSWORD, free_port, make_config

    port = free_port()
    uri = f"http://127.0.0.1:{port}/live.ts"
    config = make_config(tmp_path / "live.db", perception={"stages": ["scene"]}, cluster={"max_restarts": 2},
                         ingest={"reconnect": {"initial_delay": 0.2, "max_delay": 1.0, "give_up_after": 30,
                                               "open_timeout": 3}})
    server = _serve_ts(port)
    manager = SourceManager(config, worker_factory=ray_worker_factory(None))
    try:
        time.sleep(0.5)
        status = manager.add(uri)
        _wait(lambda: status.state == "running" and status.keyframes > 3, 90, "the actor to watch")
        actor = dict(status.actor or {})
        assert actor["state"] == "alive" and actor["pid"] != os.getpid()
        assert (actor["num_cpus"], actor["num_gpus"]) == source_resources(config) == (0.75, 0.0)
        with TestClient(create_app(config, manager=manager)) as client:
            assert client.post("/api/auth/login", json={"password": PASSWORD}).status_code == 200
            shown = client.get("/api/workers").json()
        assert shown[0]["uri"] == uri and shown[0]["actor"]["pid"] == actor["pid"]
        # The actor's process dies: Ray starts it again and it goes on watching (the stream is back too).
        server.kill()
        server.wait()
        ray_local.kill(ray_local.get_actor(actor["name"], namespace="scenewatch"), no_restart=False)
        server = _serve_ts(port)
        _wait(lambda: (status.actor or {}).get("pid") not in (None, actor["pid"]), 90, "the restarted actor")
        before = status.keyframes
        _wait(lambda: status.state == "running" and status.keyframes > 3 and status.keyframes != before, 90,
              "keyframes after the restart")
        assert (status.actor or {})["actor_restarts"] >= 1
    finally:
        manager.shutdown(timeout=60)
        server.kill()
    assert status.state == "stopped" and (status.actor or {})["state"] == "stopped"
    with TimelineStore(tmp_path / "live.db") as store:
        row = store.list_sources()[0]
    assert row["processed_until"] > 0 and row["status"] != "running"


# ------------------------------------------------------------------ a shared PostgreSQL store
def test_two_indexers_into_one_postgresql_store_write_each_row_once(
        clips: tuple[Path, list[Observation], Config], tmp_path: Path) -> None:
    """Two drivers index the same folder into one PostgreSQL timeline at once (as two head jobs
    or a re-run racing a crashed one would): the source locks and idempotent keys leave one copy."""
    try:
        import psycopg  # noqa: F401

        from tests.pg_server import PgUnavailable, new_pg_database, running_server
    except ImportError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL tests need the scale extra under CI: {exc}")
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    folder, local, _cfg = clips
    try:
        server = running_server()
        admin = server.__enter__()
    except PgUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL tests need a server under CI: {exc}")
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    try:
        url = new_pg_database(admin)
        pg = load_config(None, {"store": {"url": url, "media_dir": str(tmp_path / "media")},
                                "perception": {"stages": ["scene", "objects"]}})
        results: list[list[Any]] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                results.append(index(str(folder), pg))
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert not errors, errors
        done = [s.status for r in results for s in r]
        assert done.count("done") >= 3 and set(done) <= {"done", "already done"}
        from scenewatch.memory.backends import open_store

        with open_store(url) as store:
            rows = store.observations()
            keys = store.execute("SELECT count(*), count(DISTINCT (source_id, ukey)) FROM observations")
        assert keys[0][0] == keys[0][1] == len(local)
        for sid, mine in _by_source(local).items():
            assert_same_rows(mine, _by_source(rows)[sid])
    finally:
        server.__exit__(None, None, None)
