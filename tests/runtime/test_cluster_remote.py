"""A perception stage in its own Ray actor, placed by its declared resources (runtime/cluster_remote.py).

No GPU exists on the development machine: placement is tested with a custom resource label
(``gpu_node``) that only the local cluster's one node offers, exactly as a GPU node would be
labelled. Without Ray these tests skip, except under ``CI=true``, where a missing Ray fails.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scenewatch.config import Config, load_config
from scenewatch.memory.store import TimelineStore
from scenewatch.runtime.index import index
from scenewatch.types import Observation
from tests.conftest import FIXTURES
from tests.runtime.rows import KEYFRAME, assert_same_rows

SCENE = FIXTURES / "scene" / "scene.mp4"
STAGES = ["objects", "text"]  # text reads the objects stage's detections of the same keyframe
PINNED = {"remote_stages": ["objects"], "stages": {"objects": {"num_cpus": 0.5, "resources": {"gpu_node": 1}}}}


def _config(db: Path, remote: bool) -> Config:
    extra: dict[str, Any] = {"cluster": PINNED} if remote else {}
    return load_config(None, {"store": {"path": str(db)}, "perception": {"stages": STAGES}, **extra})


def _rows(db: Path) -> list[Observation]:
    with TimelineStore(db) as store:
        return store.observations()


def _assert_truth(rows: list[Observation], truth: dict[str, Any]) -> None:
    """The scene's ground truth: the red circle crosses left to right 2-6 s; the parcel label is read once."""
    circle = next(o for o in truth["objects"] if o["id"] == "circle")
    objects = [o for o in rows if o.kind == "object"]
    assert len(objects) == 1 and "red" in objects[0].text and "left to right" in objects[0].text
    span = circle["visible_span"]
    assert abs(objects[0].start - span[0]) <= KEYFRAME and abs(objects[0].end - span[1]) <= KEYFRAME
    visible = next(t for t in truth["text"] if t["text"] == "PRIORITY MAIL")["fully_visible_span"]
    label = [o for o in rows if o.kind == "text" and o.text == "PRIORITY MAIL"]
    assert len(label) == 1 and abs(label[0].start - visible[0]) <= KEYFRAME


@pytest.fixture(scope="module")
def ray_gpu_label() -> Iterator[Any]:
    """A two-CPU local cluster whose one node carries the ``gpu_node`` label."""
    try:
        import ray
    except ImportError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Ray tests need ray under CI: {exc}")
        pytest.skip("ray not installed (pip install 'scenewatch[scale]')")
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, resources={"gpu_node": 1}, include_dashboard=False, namespace="scenewatch",
             _node_ip_address="127.0.0.1", log_to_driver=False, configure_logging=False)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Observation]]:
    """The fixture scene and its rows with every stage in this process."""
    root = tmp_path_factory.mktemp("remote")
    summaries = index(str(SCENE), _config(root / "local.db", remote=False))
    assert [s.status for s in summaries] == ["done"]
    return SCENE, _rows(root / "local.db")


def _stage_actor_status(ray: Any) -> dict[str, Any]:
    from scenewatch.runtime.cluster import NAMESPACE
    from scenewatch.runtime.cluster_remote import actor_name

    got: dict[str, Any] = ray.get(ray.get_actor(actor_name("objects"), namespace=NAMESPACE).status.remote(),
                                  timeout=30)
    return got


def _index_with_proxies(path: Path, cfg: Config) -> list[Any]:
    """Index in this process with the remote stages built as proxies (as a source actor does)."""
    from scenewatch.runtime.cluster_remote import install_proxies, uninstall_proxies

    replaced = install_proxies(cfg)
    assert list(replaced) == ["objects"]
    try:
        return index(str(path), cfg)
    finally:
        uninstall_proxies(replaced)


def test_remote_stage_on_the_labelled_node_gives_the_local_rows(
        ray_gpu_label: Any, clip: tuple[Path, list[Observation]], tmp_path: Path,
        scene_truth: dict[str, Any]) -> None:
    from scenewatch.runtime.cluster import source_resources

    path, local = clip
    cfg = _config(tmp_path / "remote.db", remote=True)
    assert source_resources(cfg) == (1.0, 0.0)  # decoding and text stay; objects asks for its own actor
    before = _stage_actor_status(ray_gpu_label)["calls"] if _exists(ray_gpu_label) else 0
    summaries = _index_with_proxies(path, cfg)
    assert [s.status for s in summaries] == ["done"]
    rows = _rows(tmp_path / "remote.db")
    assert_same_rows(local, rows)
    _assert_truth(rows, scene_truth)
    status = _stage_actor_status(ray_gpu_label)
    assert status["calls"] > before  # the keyframes went to the stage actor
    assert status["resources"].get("gpu_node") == 1.0 and status["resources"].get("CPU") == 0.5
    assert status["pid"] != os.getpid() and status["sessions"] == 0  # closed at the end of the file


def _exists(ray: Any) -> bool:
    from scenewatch.runtime.cluster import NAMESPACE
    from scenewatch.runtime.cluster_remote import actor_name

    try:
        ray.get_actor(actor_name("objects"), namespace=NAMESPACE)
    except ValueError:
        return False
    return True


def test_stage_actor_killed_mid_run_restarts_and_loses_nothing(
        ray_gpu_label: Any, clip: tuple[Path, list[Observation]], tmp_path: Path,
        scene_truth: dict[str, Any]) -> None:
    from scenewatch.runtime.cluster import NAMESPACE
    from scenewatch.runtime.cluster_remote import _MEDIA_TIME, _SEEN, actor_name, ensure_stage_actors

    path, local = clip
    cfg = _config(tmp_path / "killed.db", remote=True)
    ensure_stage_actors(cfg)
    old_pid = _stage_actor_status(ray_gpu_label)["pid"]
    seen = _SEEN.setdefault("objects", Counter())
    start, rebuilt = seen["calls"], seen["rebuilt"]
    killed = threading.Event()

    def kill_in_the_motion() -> None:  # the circle crosses 2-6 s: its span is open, its track has history
        deadline = time.time() + 60
        while time.time() < deadline and (seen["calls"] <= start or _MEDIA_TIME.get("objects", 0.0) < 4.0):
            time.sleep(0.005)
        ray_gpu_label.kill(ray_gpu_label.get_actor(actor_name("objects"), namespace=NAMESPACE), no_restart=False)
        killed.set()

    killer = threading.Thread(target=kill_in_the_motion, daemon=True)
    killer.start()
    summaries = _index_with_proxies(path, cfg)
    killer.join(5)
    assert killed.is_set()
    assert [s.status for s in summaries] == ["done"]
    assert seen["rebuilt"] > rebuilt  # the session was rebuilt on the restarted actor
    assert _MEDIA_TIME["objects"] >= 25.0  # the scene ran to its end after the kill
    status = _stage_actor_status(ray_gpu_label)
    assert status["restarted"] and status["pid"] != old_pid
    rows = _rows(tmp_path / "killed.db")
    assert_same_rows(local, rows)  # nothing lost, nothing twice
    _assert_truth(rows, scene_truth)


def test_served_source_actor_asks_for_no_label_while_its_stage_actor_does(
        ray_gpu_label: Any, clip: tuple[Path, list[Observation]], tmp_path: Path,
        scene_truth: dict[str, Any]) -> None:
    from scenewatch.runtime.cluster import RaySourceWorker

    path, local = clip
    cfg = _config(tmp_path / "served.db", remote=True)
    worker = RaySourceWorker(str(path), cfg)
    worker.thread.start()
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            actor = worker.status.actor or {}
            if worker.status.state in ("done", "failed") and actor.get("remote_stages"):
                break
            time.sleep(0.5)
        assert worker.status.state == "done", worker.status.last_error
    finally:
        worker.stop.set()
        worker.thread.join(90)
    actor = worker.status.actor or {}
    assert actor["num_cpus"] == 1.0 and actor["num_gpus"] == 0.0
    assert "gpu_node" not in actor["resources"] and "GPU" not in actor["resources"]  # what Ray gave the source
    remote = actor["remote_stages"]
    assert [r["stage"] for r in remote] == ["objects"]
    assert remote[0]["state"] == "alive" and remote[0]["resources"]["gpu_node"] == 1.0 and remote[0]["calls"] > 0
    assert remote[0]["pid"] != actor["pid"]
    rows = _rows(tmp_path / "served.db")
    assert_same_rows(local, rows)


def test_index_on_ray_with_a_remote_stage_gives_the_local_rows(
        ray_gpu_label: Any, clip: tuple[Path, list[Observation]], tmp_path: Path,
        scene_truth: dict[str, Any]) -> None:
    from scenewatch.runtime.cluster import RayExecutor

    path, local = clip
    cfg = _config(tmp_path / "indexed.db", remote=True)
    cfg = cfg.model_copy(update={"cluster": cfg.cluster.model_copy(update={"worker_cpus": 1.0})})
    executor = RayExecutor(cfg, workers=1)
    assert executor._gpus() == 0.0
    before = _stage_actor_status(ray_gpu_label)["calls"] if _exists(ray_gpu_label) else 0
    calls: list[int] = []

    def watch(p: Any) -> None:  # the stage actor lives while the run does; the driver ends it after
        if p.event == "unit" and _exists(ray_gpu_label):
            calls.append(_stage_actor_status(ray_gpu_label)["calls"])

    summaries = index(str(path), cfg, executor=executor, on_progress=watch)
    assert [s.status for s in summaries] == ["done"]
    assert calls and calls[-1] > before  # the worker's keyframes went to the stage actor
    assert_same_rows(local, _rows(tmp_path / "indexed.db"))


def test_gpu_keyword_moves_every_gpu_stage_off_the_source_actor(tmp_path: Path) -> None:
    from scenewatch.runtime.cluster import remote_stage_names, source_resources, stage_resources

    extra = {"perception": {"stages": ["scene", "objects", "text"], "detect": {"backend": "sam3"}}}
    on_source = load_config(None, {"store": {"path": str(tmp_path / "a.db")}, **extra})
    assert stage_resources(on_source)["objects"].num_gpus == 1.0
    assert remote_stage_names(on_source) == [] and source_resources(on_source) == (2.25, 1.0)
    split = load_config(None, {"store": {"path": str(tmp_path / "b.db")}, "cluster": {"remote_stages": ["gpu"]},
                               **extra})
    assert remote_stage_names(split) == ["objects"]
    assert source_resources(split) == (1.25, 0.0)  # decoding, scene and text stay near the camera
